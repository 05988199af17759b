package loadreport

import (
	"bytes"
	"strings"
	"testing"
)

// withResilience gives r a store and reconnect part.
func withResilience(r *Report, disconnects uint64, failed map[string]uint64) {
	r.Workload.StoreBytes, r.Workload.StoreMessages, r.Workload.Reconnect = 64<<20, 1<<20, true
	r.Target.Failover = []string{"tcp://b:9007/amps/json"}
	r.Resilience = &Resilience{
		Disconnects: disconnects, Attempts: disconnects + 1, Reconnects: disconnects, Failovers: 1, Replayed: 10 * disconnects,
		FailedWrites: failed,
		Events: []Event{
			{T: 0.5, Kind: "disconnected", URI: "tcp://a:9007/amps/json", Err: "connection lost"},
			{T: 0.6, Kind: "reconnected", URI: "tcp://b:9007/amps/json", Replayed: 10},
		},
	}
	if len(failed) > 0 {
		r.Resilience.FirstFailedWrite = "topic t, seq 42, status failure, reason not entitled"
	}
	r.Failures = nil
	r.Finish()
}

// TestResilienceReport: the store, reconnect and failed-write figures in
// every form; a failed write fails the run.
func TestResilienceReport(t *testing.T) {
	r := sample()
	withResilience(r, 3, nil)
	if !r.OK {
		t.Fatalf("a clean run with reconnects failed: %v", r.Failures)
	}
	var txt bytes.Buffer
	r.WriteText(&txt)
	for _, want := range []string{
		"fails over to tcp://b:9007/amps/json",
		"store 64.0 MiB / 1,048,576 messages, reconnect on",
		"memory store, 64.0 MiB / 1,048,576 messages",
		"0 frame(s) unpersisted at the end",
		"3 disconnect(s), 3 reconnect(s) (4 attempt(s), 1 to another server), 30 frame(s) replayed",
		"failed      0 (no stored publish refused",
		"2 connection event(s)",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"reconnects": 3`, `"failed_writes": {}`, `"store_bytes": 67108864`, `"kind": "reconnected"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, js.String())
		}
	}
	back, err := ReadJSON(&js)
	if err != nil {
		t.Fatal(err)
	}
	if back.Resilience == nil || back.Resilience.Replayed != 30 || len(back.Resilience.Events) != 2 {
		t.Errorf("resilience did not come back: %+v", back.Resilience)
	}
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<table id="events">`, "reconnects", "failed writes", "fails over to"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}

	bad := sample()
	withResilience(bad, 1, map[string]uint64{"not entitled": 2, "duplicate": 1})
	if bad.OK || !strings.Contains(strings.Join(bad.Failures, ";"), "3 failed write(s)") {
		t.Errorf("failed writes did not fail the run: %v", bad.Failures)
	}
	txt.Reset()
	bad.WriteText(&txt)
	if !strings.Contains(txt.String(), "3 stored publish(es) refused by the server: not entitled 2, duplicate 1; first: topic t, seq 42") {
		t.Errorf("failed writes in text:\n%s", txt.String())
	}
	gave := sample()
	gave.Resilience = &Resilience{GaveUp: 1, Gaps: 1}
	gave.Failures = nil
	gave.Finish()
	if gave.OK || len(gave.Failures) != 2 {
		t.Errorf("gap and give-up: %v", gave.Failures)
	}
}

// TestMergeResilience: counts are summed, failed writes by reason,
// events kept with their run on the merged clock.
func TestMergeResilience(t *testing.T) {
	dir := t.TempDir()
	a, _ := run(t, "0000000a", 1, 1000, 1_700_000_000_000)
	b, _ := run(t, "0000000b", 2, 1000, 1_700_000_001_000)
	c, _ := run(t, "0000000c", 3, 1000, 1_700_000_000_000) // no store, no reconnect
	withResilience(a, 2, map[string]uint64{"duplicate": 1})
	withResilience(b, 5, map[string]uint64{"duplicate": 2, "not entitled": 1})
	m, err := Merge([]*Report{roundTrip(t, dir, a), roundTrip(t, dir, b), roundTrip(t, dir, c)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs := m.Resilience
	if rs == nil || rs.Disconnects != 7 || rs.Reconnects != 7 || rs.Attempts != 9 || rs.Failovers != 2 || rs.Replayed != 70 {
		t.Fatalf("merged %+v", rs)
	}
	if rs.FailedWrites["duplicate"] != 3 || rs.FailedWrites["not entitled"] != 1 || rs.FailedWritesTotal() != 4 {
		t.Errorf("failed writes %v", rs.FailedWrites)
	}
	if !strings.HasPrefix(rs.FirstFailedWrite, "run 0000000a: ") {
		t.Errorf("first failed write %q", rs.FirstFailedWrite)
	}
	if len(rs.Events) != 4 || rs.Events[0].Run != "0000000a" || rs.Events[1].Run != "0000000a" ||
		rs.Events[2].Run != "0000000b" || rs.Events[2].T != 1.5 {
		t.Errorf("events %+v", rs.Events)
	}
	if m.OK {
		t.Error("the runs' failed writes did not fail the merge")
	}
	var txt bytes.Buffer
	m.WriteText(&txt)
	if !strings.Contains(txt.String(), "7 disconnect(s), 7 reconnect(s)") || !strings.Contains(txt.String(), "duplicate 3, not entitled 1") {
		t.Errorf("merged text:\n%s", txt.String())
	}
	var page bytes.Buffer
	if err := m.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "<td>0000000b</td>") {
		t.Error("the merged page's events lack their run")
	}
}
