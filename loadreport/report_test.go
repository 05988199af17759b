package loadreport

import (
	"bytes"
	"strings"
	"testing"
)

func sample() *Report {
	h := NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		Record(h, i*1000)
	}
	r := &Report{Tool: "loadgen", ReportVersion: Version, Run: "0000abcd", Messages: 1000, Duration: 0.5}
	r.Latency.Publish = NewStats(EnqueueName, "test", h)
	r.Latency.Wire = NewStats(WireName, "test", h)
	r.Finish()
	return r
}

// TestJSONRoundTrip: the histograms travel inside the JSON report and come
// back exact.
func TestJSONRoundTrip(t *testing.T) {
	r := sample()
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range r.Latency.Kinds() {
		b := *back.Latency.Slot(k.Tag)
		if b == nil || b.Hist == nil || !b.Hist.Equals(k.Stats.Hist) || b.P99 != k.Stats.P99 {
			t.Errorf("%s: %+v did not come back", k.Tag, b)
		}
	}
	if len(back.Latency.Kinds()) != 2 {
		t.Errorf("kinds %v", back.Latency.Kinds())
	}
	// A report without its histogram, or of another version, is refused.
	for _, bad := range []string{
		`{"tool":"loadgen","report_version":1}`,
		`{"tool":"other","report_version":2}`,
		`{"tool":"loadgen","report_version":2,"latency":{"publish":{"count":3}}}`,
	} {
		if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: read without error", bad)
		}
	}
}

func TestMergeIntoRefusesDrops(t *testing.T) {
	h := NewHistogram()
	wide := NewHistogram()
	Record(wide, 5)
	if err := MergeInto(h, wide); err != nil || h.TotalCount() != 1 {
		t.Fatalf("%v, %d", err, h.TotalCount())
	}
	narrow := NewHistogram()
	// A histogram of a wider range holds a value the report's cannot.
	other := newWide()
	if err := MergeInto(narrow, other); err == nil {
		t.Error("a merge that drops a value did not fail")
	}
}

func newWide() *hdrHist {
	h := hdrNew(1, 10*HistMax, 3)
	_ = h.RecordValue(5 * HistMax)
	return h
}
