package loadreport

import (
	"bytes"
	"strings"
	"testing"
)

// withFileStore gives r a file store part.
func withFileStore(r *Report, lag uint64) {
	wl := &r.Workload
	wl.Ack, wl.StoreBytes, wl.StoreMessages = "persisted", 1<<20, 4096
	wl.StoreKind, wl.StoreDir, wl.Durability, wl.SyncInterval, wl.SyncBytes = "file", "/data/lg", "group", 0.002, 1<<20
	r.Resilience = &Resilience{}
	r.Store = &Store{Stores: 2, SegmentBytes: 1 << 20, BytesOnDisk: 10 << 20, BytesOnDiskPeak: 12 << 20, Segments: 10, SegmentsPeak: 12,
		DurableLagMax: lag, DurableLagEnd: 3, Syncs: 100, AppendWaits: 1, RecoveredRecords: 50, TornBytes: 7, LostRanges: 0, Recovered: 50}
	r.Failures = nil
	r.Finish()
}

// TestStoreReport: the file store's figures in text, JSON (and back) and
// HTML, and merged.
func TestStoreReport(t *testing.T) {
	r := sample()
	withFileStore(r, 1234)
	if !r.OK {
		t.Fatalf("failed: %v", r.Failures)
	}
	var txt bytes.Buffer
	r.WriteText(&txt)
	for _, want := range []string{
		"file store (durability group) 1.0 MiB / 4,096 messages",
		"store       file store in /data/lg (connection i's in /data/lg/<client name>), durability group (msync every 2ms or 1.0 MiB, whichever first)",
		"store disk  10.0 MiB in 10 segment(s) at the end, peak 12.0 MiB in 12 (2 store(s), 1.0 MiB segments)",
		"durable     lag max 1,234, at the end 3 (sequence numbers appended, not yet on disk); 100 sync(s), 1 append wait(s), 0 background error(s)",
		"recovery    at open: 50 record(s) above the persisted state, 7 torn byte(s) cut, 0 damaged range(s); 50 frame(s) replayed",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"store_kind": "file"`, `"store_dir": "/data/lg"`, `"durability": "group"`, `"sync_interval_s": 0.002`,
		`"durable_lag_max": 1234`, `"bytes_on_disk_peak": 12582912`, `"segments": 10`, `"recovered": 50`, `"torn_bytes": 7`, `"lost_ranges": 0`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	back, err := ReadJSON(bytes.NewReader(js.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Store == nil || *back.Store != *r.Store {
		t.Errorf("store came back as %+v", back.Store)
	}
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"store disk", "lag max 1,234", "file store in /data/lg"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}

	// Merged: sums, the largest lag; a run with the memory store adds nothing.
	dir := t.TempDir()
	a, _ := run(t, "0000000a", 1, 100, 1_700_000_000_000)
	b, _ := run(t, "0000000b", 2, 100, 1_700_000_000_000)
	c, _ := run(t, "0000000c", 3, 100, 1_700_000_000_000)
	withFileStore(a, 10)
	withFileStore(b, 20)
	m, err := Merge([]*Report{roundTrip(t, dir, a), roundTrip(t, dir, b), roundTrip(t, dir, c)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Store; s == nil || s.Stores != 4 || s.BytesOnDisk != 20<<20 || s.DurableLagMax != 20 || s.Syncs != 200 || s.Recovered != 100 {
		t.Errorf("merged store %+v", m.Store)
	}
	txt.Reset()
	m.WriteText(&txt)
	if !strings.Contains(txt.String(), "store disk  20.0 MiB in 20 segment(s)") {
		t.Errorf("merged text:\n%s", txt.String())
	}
}
