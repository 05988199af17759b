package loadreport

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Merge combines runs into one report: JSON reports (with their
// histograms) and interval logs. Counts are summed; histograms are merged
// exactly, and Merge fails if that would drop a value. A run given both as
// a report and as a log must agree on every kind's count (the report's
// histograms are the sum of its log's intervals); a log without a report
// adds its latency histograms only. The same run twice is an error: it
// would count its messages twice.
//
// Throughput is the messages of all runs over the span from the earliest
// start to the latest end: runs that ran side by side (one per machine)
// add up; runs one after another are averaged over the gaps too.
func Merge(reports []*Report, logs []*Log) (*Report, error) {
	if len(reports)+len(logs) == 0 {
		return nil, fmt.Errorf("nothing to merge")
	}
	out := &Report{Tool: "loadgen", ReportVersion: Version, Run: "merged", Merged: &Merged{}}
	m := out.Merged
	seen := map[string]bool{}
	var span0, span1 int64
	hists := map[string]*hdrhistogram.Histogram{}
	add := func(tag string, h *hdrhistogram.Histogram, from string) error {
		t := hists[tag]
		if t == nil {
			t = NewHistogram()
			hists[tag] = t
		}
		if err := MergeInto(t, h); err != nil {
			return fmt.Errorf("%s, %s latency: %w", from, tag, err)
		}
		return nil
	}
	var harnessW, publishW, weight float64
	runFailures := []string{}
	machines := map[string]bool{}
	for i, r := range reports {
		if r.Merged != nil {
			m.Runs = append(m.Runs, r.Merged.Runs...)
		} else {
			m.Runs = append(m.Runs, r.Run)
		}
		if seen[r.Run] && r.Run != "merged" {
			return nil, fmt.Errorf("run %s is given twice: its messages would be counted twice", r.Run)
		}
		seen[r.Run] = true
		if i == 0 {
			out.Target, out.Workload, out.Machine = r.Target, r.Workload, r.Machine
			out.Latency.WireSampling = r.Latency.WireSampling
			out.Latency.WireSampling.Sampled, out.Latency.WireSampling.Resolved, out.Latency.WireSampling.Unresolved = 0, 0, 0
			out.Latency.WireSampling.RolledOver, out.Latency.WireSampling.Unwritten, out.Latency.WireSampling.QueueFull = 0, 0, 0
			out.Command = r.Command
		}
		machines[r.Machine.Hostname] = true
		start, end := r.StartUnixMs, r.StartUnixMs+int64(math.Round(r.Duration*1000))
		if i == 0 || start < span0 {
			span0 = start
		}
		span1 = max(span1, end)
		out.Messages += r.Messages
		out.PayloadBytes += r.PayloadBytes
		out.WireBytes += r.WireBytes
		out.SendDuration = max(out.SendDuration, r.SendDuration)
		out.BufferFull += r.BufferFull
		out.Errors.Count += r.Errors.Count
		if out.Errors.First == "" {
			out.Errors.First = r.Errors.First
		}
		out.RingFillMax = maxPtr(out.RingFillMax, r.RingFillMax)
		out.Transport.BytesWritten += r.Transport.BytesWritten
		out.Transport.Writes += r.Transport.Writes
		out.Latency.WireSampling.Add(r.Latency.WireSampling)
		if r.Verify != nil {
			if out.Verify == nil {
				out.Verify = &Verify{Tail: "merged"}
			}
			v := out.Verify
			v.Topics = max(v.Topics, r.Verify.Topics)
			v.Expected += r.Verify.Expected
			v.Received += r.Verify.Received
			v.Lost += r.Verify.Lost
			v.Duplicated += r.Verify.Duplicated
			v.OutOfOrder += r.Verify.OutOfOrder
			v.Foreign += r.Verify.Foreign
			if v.Error == "" {
				v.Error = r.Verify.Error
			}
		}
		if r.Server != nil {
			if out.Server == nil {
				out.Server = &Server{}
			}
			out.Server.Publishes += r.Server.Publishes
			out.Server.Delivered += r.Server.Delivered
			out.Server.Connections += r.Server.Connections
		}
		rt, ot := &r.Runtime, &out.Runtime
		ot.Allocs += rt.Allocs
		ot.AllocBytes += rt.AllocBytes
		ot.GCCycles += rt.GCCycles
		ot.GCPause += rt.GCPause
		ot.PeakRSS = max(ot.PeakRSS, rt.PeakRSS)
		ot.CPUUser += rt.CPUUser
		ot.CPUSys += rt.CPUSys
		w := float64(r.Messages)
		harnessW += rt.HarnessNs * w
		publishW += rt.PublishNs * w
		weight += w
		for _, k := range r.Latency.Kinds() {
			if k.Stats.Hist == nil {
				return nil, fmt.Errorf("run %s: the %s latency has no histogram", r.Run, k.Tag)
			}
			if err := add(k.Tag, k.Stats.Hist, "run "+r.Run); err != nil {
				return nil, err
			}
		}
		for _, f := range r.Failures {
			runFailures = append(runFailures, "run "+r.Run+": "+f)
		}
		for _, wn := range r.Warnings {
			out.Warnings = append(out.Warnings, "run "+r.Run+": "+wn)
		}
		out.Interrupted = out.Interrupted || r.Interrupted
	}
	byRun := map[string]*Report{}
	for _, r := range reports {
		byRun[r.Run] = r
	}
	logsOnly := 0
	logged := map[string]string{}
	for _, l := range logs {
		m.Logs = append(m.Logs, l.Path)
		totals, err := l.Totals()
		if err != nil {
			return nil, err
		}
		if l.Run != "" {
			if prev, ok := logged[l.Run]; ok {
				return nil, fmt.Errorf("run %s has two interval logs, %s and %s: its latencies would be counted twice", l.Run, prev, l.Path)
			}
			logged[l.Run] = l.Path
		}
		if r := byRun[l.Run]; r != nil && l.Run != "" {
			// The report already holds these values: check, do not add.
			for _, tag := range Tags {
				var want int64
				if s := *r.Latency.Slot(tag); s != nil {
					want = s.Count
				}
				var got int64
				if h := totals[tag]; h != nil {
					got = h.TotalCount()
				}
				if got != want {
					return nil, fmt.Errorf("%s and the report of run %s disagree on the %s latency: %d values in the log, %d in the report", l.Path, l.Run, tag, got, want)
				}
			}
			continue
		}
		logsOnly++
		if l.Run != "" {
			m.Runs = append(m.Runs, l.Run)
		} else {
			m.Runs = append(m.Runs, l.Path)
		}
		for _, tag := range Tags {
			if h := totals[tag]; h != nil {
				if err := add(tag, h, l.Path); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, r := range reports {
		if r.Resilience == nil {
			continue
		}
		if out.Resilience == nil {
			out.Resilience = &Resilience{}
		}
		out.Resilience.add(r.Resilience, r.Run, float64(r.StartUnixMs-span0)/1000)
		out.Workload.Reconnect = out.Workload.Reconnect || r.Workload.Reconnect
	}
	for _, r := range reports {
		if r.Store == nil {
			continue
		}
		if out.Store == nil {
			out.Store = &Store{}
		}
		out.Store.add(r.Store)
	}
	if rs := out.Resilience; rs != nil {
		slices.SortStableFunc(rs.Events, func(a, b Event) int {
			switch {
			case a.T < b.T:
				return -1
			case a.T > b.T:
				return 1
			}
			return 0
		})
	}
	var means []float64
	for _, r := range reports {
		name := r.Path
		if name == "" {
			name = "run " + r.Run
		}
		m.Reports = append(m.Reports, name)
		if r.RingFillMean != nil {
			means = append(means, *r.RingFillMean)
		}
	}
	if len(means) > 0 && out.RingFillMax != nil {
		var sum float64
		for _, x := range means {
			sum += x
		}
		mean := sum / float64(len(means))
		out.RingFillMean = &mean
	}
	if out.Transport.Writes > 0 {
		out.Transport.AvgWrite = float64(out.Transport.BytesWritten) / float64(out.Transport.Writes)
	}
	if logsOnly > 0 {
		out.Warnings = append(out.Warnings, fmt.Sprintf("%d run(s) came as interval logs alone: their latencies are merged, their messages are not counted", logsOnly))
	}
	for h := range machines {
		if h != "" {
			m.Machines = append(m.Machines, h)
		}
	}
	slices.Sort(m.Machines)
	m.Differs = differs(reports)
	if weight > 0 {
		out.Runtime.HarnessNs = harnessW / weight
		out.Runtime.PublishNs = publishW / weight
		if out.Runtime.PublishNs > 0 {
			out.Runtime.OverheadRatio = out.Runtime.HarnessNs / out.Runtime.PublishNs
		}
	}
	out.StartUnixMs = span0
	out.Duration = float64(span1-span0) / 1000
	for _, tag := range Tags {
		h := hists[tag]
		if h == nil {
			continue
		}
		name, what := tag, "merged"
		for _, r := range reports {
			if s := *r.Latency.Slot(tag); s != nil {
				name, what = s.Name, s.What
				break
			}
		}
		*out.Latency.Slot(tag) = NewStats(name, what, h)
	}
	out.Timeline = mergeTimelines(reports, span0)
	out.Finish()
	// Finish judged the summed errors and verification anew; the runs'
	// own failures already say the same, each with its run.
	out.Failures = runFailures
	out.OK = len(out.Failures) == 0
	return out, nil
}

func maxPtr(a, b *float64) *float64 {
	switch {
	case b == nil:
		return a
	case a == nil || *b > *a:
		v := *b
		return &v
	}
	return a
}

// differs lists the workload and target fields that were not the same in
// every report.
func differs(reports []*Report) []string {
	out := []string{}
	if len(reports) < 2 {
		return out
	}
	fields := func(r *Report) map[string]any {
		var m map[string]any
		b, _ := json.Marshal(struct {
			Workload
			URI string `json:"target_uri"`
		}{r.Workload, r.Target.URI})
		json.Unmarshal(b, &m)
		return m
	}
	first := fields(reports[0])
	keys := make([]string, 0, len(first))
	for k := range first {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var vals []string
		same := true
		for _, r := range reports {
			v := fmt.Sprint(fields(r)[k])
			if v != fmt.Sprint(first[k]) {
				same = false
			}
			vals = append(vals, v)
		}
		if !same {
			out = append(out, k+": "+strings.Join(vals, ", "))
		}
	}
	return out
}

// mergeTimelines adds the runs' timelines on the wall clock: each run's
// messages per interval land in the merged interval of the same time.
func mergeTimelines(reports []*Report, span0 int64) Timeline {
	if len(reports) == 0 {
		return Timeline{}
	}
	step := reports[0].Workload.Interval
	if step <= 0 {
		step = 1
	}
	buckets := map[int]uint64{}
	last := 0
	for _, r := range reports {
		off := float64(r.StartUnixMs-span0) / 1000
		for i := 1; i < len(r.Timeline); i++ {
			p, q := r.Timeline[i-1], r.Timeline[i]
			// Ticks come a moment after the boundary they stand for:
			// the nearest boundary, not the next.
			b := max(1, int(math.Round((off+q.T)/step)))
			buckets[b] += q.Messages - p.Messages
			last = max(last, b)
		}
	}
	out := Timeline{{T: 0}}
	var cum uint64
	for b := 1; b <= last; b++ {
		cum += buckets[b]
		out = append(out, TimelinePoint{T: float64(b) * step, Messages: cum})
	}
	return out
}
