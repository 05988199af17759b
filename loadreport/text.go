package loadreport

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteText writes the human report.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	title := "loadgen report"
	if m := r.Merged; m != nil {
		title = fmt.Sprintf("loadgen report: %d runs merged", len(m.Runs))
	}
	b.WriteString(title + "\n")
	if m := r.Merged; m != nil {
		line("runs", "%s", strings.Join(m.Runs, ", "))
		var from []string
		from = append(from, m.Reports...)
		from = append(from, m.Logs...)
		line("from", "%s", strings.Join(from, ", "))
		line("machines", "%s", strings.Join(m.Machines, ", "))
		for _, d := range m.Differs {
			line("differs", "%s", d)
		}
	} else {
		line("command", "%s", r.Command)
	}
	target := r.Target.URI
	if r.Target.Embedded {
		target += "  (embedded ampstest server, same process)"
	}
	if r.Target.ServerVersion != "" {
		target += "  server " + r.Target.ServerVersion
	}
	line("target", "%s", target)
	if len(r.Target.Failover) > 0 {
		line("", "fails over to %s", strings.Join(r.Target.Failover, ", "))
	}
	wl := &r.Workload
	line("workload", "%s", wl.line1())
	line("", "%s", wl.line2())

	msgs := Commas(r.Messages)
	if r.Server != nil {
		msgs += fmt.Sprintf("  (the server accepted %s)", Commas(r.Server.Publishes))
	}
	line("messages", "%s", msgs)
	line("bytes", "%s payload, %s on the wire", DBytes(r.PayloadBytes), DBytes(r.WireBytes))
	dwhat := "first send → final flush acknowledged"
	if r.Merged != nil {
		dwhat = "from the first run's start to the last run's end"
	}
	line("duration", "%s  (%s; sending took %s)", Secs(r.Duration), dwhat, Secs(r.SendDuration))
	line("throughput", "%s msg/s   %.1f MB/s payload   %.1f MB/s wire", Commas(uint64(math.Round(r.MsgsPerSec))), r.MBPerSec, r.WireMBPerSec)
	ws := &r.Latency.WireSampling
	if r.Latency.Wire == nil && ws.Sampled > 0 {
		line("latency", "%s: no sample resolved", WireName)
	}
	for _, k := range r.Latency.Kinds() {
		l := k.Stats
		label := "latency"
		if k.Tag == "pacer" {
			label = "pacer"
		}
		line(label, "%s: %s", l.Name, l.What)
		line("", "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s, n=%s)",
			Dur(l.P50), Dur(l.P90), Dur(l.P99), Dur(l.P999), Dur(l.Max), Dur(int64(l.Mean)), Commas(uint64(l.Count)))
		if l == r.Latency.Wire || (l == r.Latency.Publish && r.Latency.Wire == nil && ws.Sampled > 0) {
			line("", "%s", ws.Text())
		}
	}
	if r.Latency.Publish == nil {
		line("latency", "no publish completed")
	}
	if v := r.Verify; v != nil {
		line("verify", "expected %s, received %s: lost %s, duplicated %s, out of order %s",
			Commas(v.Expected), Commas(v.Received), Commas(v.Lost), Commas(v.Duplicated), Commas(v.OutOfOrder))
		extra := fmt.Sprintf("subscribed to %d topic(s) before publishing; tail: %s", v.Topics, v.Tail)
		if v.Foreign > 0 {
			extra += fmt.Sprintf("; %s other message(s) ignored", Commas(v.Foreign))
		}
		line("", "%s", extra)
	}
	if wl.StoreBytes > 0 {
		line("store", "%s", wl.storeText(r.Resilience))
	}
	if st := r.Store; st != nil {
		line("store disk", "%s", st.DiskText())
		line("durable", "%s", st.DurableText())
		line("recovery", "%s", st.RecoveryText())
	}
	if rs := r.Resilience; rs != nil {
		line("reconnects", "%s", rs.ReconnectText())
		line("failed", "%s", rs.FailedLine())
		if n := len(rs.Events); n > 0 || rs.EventsDropped > 0 {
			line("", "%s connection event(s) in the JSON report (resilience.events)%s", Commas(uint64(n)), droppedText(rs.EventsDropped))
		}
	}
	errs := Commas(r.Errors.Count)
	if r.Errors.First != "" {
		errs += "  first: " + r.Errors.First
	}
	line("errors", "%s", errs)
	fill := "not sampled (the run was too short)"
	if r.RingFillMax != nil && r.RingFillMean != nil {
		of := "of the send buffer"
		if r.Workload.StoreBytes > 0 {
			of = "of the store (bytes not yet persisted)"
		}
		fill = fmt.Sprintf("max %.1f%%, mean %.1f%% %s (sampled every 10ms)", *r.RingFillMax*100, *r.RingFillMean*100, of)
	}
	if r.BufferFull > 0 {
		fill += fmt.Sprintf("; %s TryPublish retries on a full buffer", Commas(r.BufferFull))
	}
	line("ring fill", "%s", fill)
	if tr := &r.Transport; tr.Writes > 0 {
		line("writes", "%s writev calls, %s each on average (%s written)", Commas(tr.Writes), DBytes(uint64(tr.AvgWrite+0.5)), DBytes(tr.BytesWritten))
	}
	rt := &r.Runtime
	rss := "unknown"
	if rt.PeakRSS > 0 {
		rss = IBytes(rt.PeakRSS)
	}
	scope := embeddedNote(r.Target.Embedded, r.Verify != nil)
	line("cpu", "%.0fns/msg  (user %.2fs + system %.2fs, getrusage: the whole publishing process%s)",
		rt.CPUNsPerM, rt.CPUUser, rt.CPUSys, scope)
	line("overhead", "%s", rt.overheadText())
	line("runtime", "allocs %s (%.4f/msg, whole process%s), GC cycles %d (pause %s), peak RSS %s",
		Commas(rt.Allocs), rt.AllocsPerMsg, scope, rt.GCCycles, Dur(int64(rt.GCPause)), rss)
	m := &r.Machine
	line("machine", "%s; %s, %d B cache line", m.CPU, m.CoresText(), m.CacheLine)
	line("", "%s/%s, %s, GOMAXPROCS %d", m.GOOS, m.GOARCH, m.GoVersion, m.GOMAXPROCS)
	for _, wn := range r.Warnings {
		line("warning", "%s", wn)
	}
	switch {
	case r.OK && r.Interrupted:
		line("result", "INTERRUPTED (no failure before the interrupt)")
	case r.OK:
		line("result", "OK")
	default:
		line("result", "FAILED: %s", strings.Join(r.Failures, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (wl *Workload) line1() string {
	topics := wl.FirstTopic
	if wl.Topics > 1 {
		topics = strconv.Itoa(wl.Topics) + " topics (" + wl.FirstTopic + ", …)"
	}
	return fmt.Sprintf("%d connection(s) × %d producer(s), %s, payload %s", wl.Connections, wl.Producers, topics, wl.Payload)
}

func (wl *Workload) line2() string {
	rate := "max rate"
	if wl.Rate > 0 {
		rate = "rate " + Human(wl.Rate) + " msg/s"
	}
	var limits []string
	if wl.Count > 0 {
		limits = append(limits, "count "+Commas(wl.Count))
	}
	if wl.DurationLimit > 0 {
		limits = append(limits, "duration "+Secs(wl.DurationLimit))
	}
	ack := "ack " + wl.Ack
	if wl.FlushEvery > 0 {
		ack += ", flush every " + Commas(wl.FlushEvery)
	}
	if wl.FlushInterval > 0 {
		ack += ", flush every " + Secs(wl.FlushInterval)
	}
	buffer := "buffer " + IBytes(uint64(wl.BufferSize))
	if wl.StoreBytes > 0 {
		buffer = "store " + IBytes(uint64(wl.StoreBytes)) + " / " + Commas(uint64(wl.StoreMessages)) + " messages"
		if wl.StoreKind == "file" {
			buffer = "file store (durability " + wl.Durability + ") " + IBytes(uint64(wl.StoreBytes)) + " / " + Commas(uint64(wl.StoreMessages)) + " messages"
		}
	}
	if wl.Reconnect {
		buffer += ", reconnect on"
	}
	return fmt.Sprintf("%s, %s, %s, api %s, %s", rate, strings.Join(limits, " or "), ack, wl.API, buffer)
}

func droppedText(n uint64) string {
	if n == 0 {
		return ""
	}
	return "; " + Commas(n) + " more counted, not kept"
}

// overheadText is the overhead line: loadgen's own cost against the
// publish cost it measured.
func (rt *Runtime) overheadText() string {
	own := fmt.Sprintf("loadgen's own cost %.1fns/msg (the producer loop without the publish call, measured before the run)", rt.HarnessNs)
	if rt.PublishNs <= 0 {
		return own
	}
	return fmt.Sprintf("loadgen's own cost %.1fns/msg = %.1f%% of the publish cost it measured, %.1fns/msg (each producer's time per message, less loadgen's own; the loop without the publish was measured before the run)",
		rt.HarnessNs, 100*rt.OverheadRatio, rt.PublishNs)
}

// WireName and EnqueueName name the two publish latencies.
const (
	WireName    = "publish-to-wire latency"
	EnqueueName = "publish (enqueue) latency"
	PacerName   = "pacer lateness"
)

// Text is the sampling line under the publish-to-wire latency.
func (ws *WireSampling) Text() string {
	pct := 0.0
	if ws.Sampled > 0 {
		pct = 100 * float64(ws.Unresolved) / float64(ws.Sampled)
	}
	return fmt.Sprintf("samples: 1 in %d per producer, %s taken, %s unresolved (%.2f%%: %s rolled out of fastpub's %d-write log, %s never written, %s pending queue full)",
		ws.Every, Commas(ws.Sampled), Commas(ws.Unresolved), pct, Commas(ws.RolledOver), ws.LogWrites, Commas(ws.Unwritten), Commas(ws.QueueFull))
}

func embeddedNote(embedded, verify bool) string {
	switch {
	case embedded && verify:
		return ", embedded server and subscriber included"
	case embedded:
		return ", embedded server included"
	case verify:
		return ", subscriber included"
	}
	return ""
}

// CoresText describes the cores: "2 physical / 2 logical cores (KVM guest)".
func (m *Machine) CoresText() string {
	p, l := "?", "?"
	if m.PhysicalCores > 0 {
		p = strconv.Itoa(m.PhysicalCores)
	}
	if m.LogicalCores > 0 {
		l = strconv.Itoa(m.LogicalCores)
	}
	s := p + " physical / " + l + " logical cores"
	if m.NumCPU != m.LogicalCores {
		s += " (" + strconv.Itoa(m.NumCPU) + " usable)"
	}
	if m.Hypervisor != "" {
		s += " (" + m.Hypervisor + " guest)"
	}
	return s
}
