package store

import (
	"errors"
	"testing"
)

func TestNewMemoryDefaultsAndLimits(t *testing.T) {
	m, err := NewMemory(Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Limits(); got != (Limits{Bytes: DefaultBytes, Messages: DefaultMessages}) {
		t.Fatalf("defaults %+v", got)
	}
	for _, l := range []Limits{
		{Bytes: MinBytes - 1, Messages: 1000},
		{Bytes: 3 << 20, Messages: 1000},
		{Bytes: MaxBytes + 1, Messages: 1000},
		{Bytes: MinBytes, Messages: MinMessages - 1},
		{Bytes: MinBytes, Messages: MaxMessages + 1},
	} {
		if _, err := NewMemory(l); !errors.Is(err, ErrInvalidLimits) {
			t.Errorf("NewMemory(%+v) = %v, want ErrInvalidLimits", l, err)
		}
	}
	last, err := m.Recover(func(uint64, []byte) error { t.Fatal("memory store recovered a frame"); return nil })
	if last != 0 || err != nil {
		t.Fatalf("Recover = %d, %v", last, err)
	}
	if m.Persisted(5) != nil || m.Close() != nil {
		t.Fatal("memory store errors")
	}
}
