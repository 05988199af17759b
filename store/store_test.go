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
	rec, err := m.Recover(func(uint64, []byte) error { t.Fatal("memory store recovered a frame"); return nil })
	if rec.Last != 0 || rec.Persisted != 0 || rec.Lost != nil || err != nil {
		t.Fatalf("Recover = %+v, %v", rec, err)
	}
	if m.Begin(1, 0) != nil || m.Persisted(5, 0, 5) != nil || m.Close() != nil {
		t.Fatal("memory store errors")
	}
}

func TestDamageErrorNamesRanges(t *testing.T) {
	err := error(&DamageError{Path: "/d", Lost: []Range{{7, 7}, {10, 12}}})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatal("DamageError does not match ErrCorrupt")
	}
	if got, want := err.Error(), "store: /d: lost corrupt records 7 10-12"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
