package main

// The report model lives in package loadreport (shared with `loadgen
// merge`); this file holds what only a live run knows: what each histogram
// measures, and the run's parameters.

import (
	"strconv"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/fastpub/fastpub/loadreport"
	"github.com/fastpub/fastpub/store/filestore"
)

// Formatting helpers, from the report model.
var (
	commas = loadreport.Commas
	dur    = loadreport.Dur
	human  = loadreport.Human
	dbytes = loadreport.DBytes
	ibytes = loadreport.IBytes
)

// newHistogram returns a latency histogram of the report's range.
func newHistogram() *hdrhistogram.Histogram { return loadreport.NewHistogram() }

// record adds v nanoseconds to h, clamped to its range; no allocation.
func record(h *hdrhistogram.Histogram, v int64) { loadreport.Record(h, v) }

// wireLatencyWhat says what the publish-to-wire histogram measures.
func wireLatencyWhat(cfg *config, p wirePlan) string {
	from := "start of each sampled send, rendering included"
	if cfg.rate > 0 {
		from = "due time on the --rate schedule"
	}
	what := from + " → fastpub's writev that handed the frame to the kernel returned (Client.WireTime); 1 message in " +
		strconv.FormatUint(p.every, 10) + " per producer"
	if cfg.producers > 1 {
		what += "; " + strconv.Itoa(cfg.producers) + " producers share each connection, so a sample can only be later than its frame's true time: an over-estimate"
	}
	return what
}

// publishLatencyWhat says what the publish histogram measures: fastpub
// reports when a frame is queued, not when the kernel took it.
func publishLatencyWhat(cfg *config, timeEvery uint64) string {
	if cfg.rate > 0 {
		return "due time on the --rate schedule → " + cfg.api.call() + " returned (coordinated omission corrected), every message; the frame is queued in fastpub's send buffer, not yet written"
	}
	return "start of each timed send, rendering included → " + cfg.api.call() + " returned; 1 message in " +
		strconv.FormatUint(timeEvery, 10) + " per producer is timed (the clock is read twice for it; the others share one reading per " +
		strconv.Itoa(clockEvery(cfg)) + " messages); the frame is queued in fastpub's send buffer, not yet written"
}

func (a apiMode) call() string {
	switch a {
	case apiTry:
		return "TryPublish (retries included)"
	case apiMessage:
		return "PublishMessage"
	}
	return "PublishContext"
}

func fillWorkload(rep *loadreport.Report, cfg *config) {
	payload := "generated, " + strconv.Itoa(cfg.size) + " B"
	if cfg.templateFile != "" {
		payload = "template " + cfg.templateFile
	}
	rep.Command = commandLine(cfg)
	rep.Workload = loadreport.Workload{
		Spin:          cfg.spin.Seconds(),
		Connections:   cfg.connections,
		Producers:     cfg.producers,
		Topics:        len(cfg.topics),
		FirstTopic:    cfg.topics[0],
		Payload:       payload,
		Rate:          cfg.rate,
		Count:         cfg.count,
		DurationLimit: cfg.duration.Seconds(),
		Ack:           cfg.ack.String(),
		FlushEvery:    cfg.flushEvery,
		FlushInterval: cfg.flushInterval.Seconds(),
		API:           cfg.api.String(),
		BufferSize:    cfg.sendBuffer(),
		Reconnect:     cfg.reconnect,
		Interval:      cfg.interval.Seconds(),
	}
	if cfg.ack == ackPersisted {
		rep.Workload.StoreBytes, rep.Workload.StoreMessages = cfg.storeBytes, cfg.storeMessages
		rep.Workload.StoreKind = "memory"
		if cfg.storeDir != "" {
			rep.Workload.StoreKind, rep.Workload.StoreDir, rep.Workload.Durability = "file", cfg.storeDir, cfg.durability.String()
			if cfg.durability == filestore.DurabilityGroup {
				rep.Workload.SyncInterval, rep.Workload.SyncBytes = cfg.syncInterval.Seconds(), cfg.syncBytes
			}
		}
	}
}

// flushWhat says what the flush histogram measures.
func flushWhat(cfg *config) string {
	if cfg.ack == ackPersisted {
		return "PublishFlush round trip: until the server's persisted ack for everything published before it (with the store, across reconnects)"
	}
	return "PublishFlush round trip: until the server's processed ack for everything queued before it"
}

// maxOverhead is the most of the publish cost loadgen's own cost may be
// before the report warns: the goal is at most 15%.
const maxOverhead = 0.15

// pacerWhat says what the pacer-lateness histogram measures.
func pacerWhat(cfg *config) string {
	how := "sleeping, then yielding for the last " + cfg.spin.String()
	if cfg.spin == 0 {
		how = "sleeping only (--spin 0)"
	}
	return "how late loadgen's own pacer woke for a due time it waited for (" + how + "): loadgen's delay, not the client's; it is part of every latency measured from the due time"
}

// pacerWarning warns when the pacer's lateness is most of the publish-to-
// wire latency: the figures then measure loadgen's wake-ups.
func (r *loadRun) pacerWarning() {
	pc, w := r.rep.Latency.Pacer, r.rep.Latency.Wire
	if pc == nil || w == nil {
		return
	}
	if pc.P50*2 > w.P50 {
		r.rep.Warnings = append(r.rep.Warnings, "the pacer's lateness (p50 "+dur(pc.P50)+") is more than half the publish-to-wire p50 ("+dur(w.P50)+
			"): the latency figures mostly measure how late loadgen woke, not the client; raise --spin (the CPU then spins for that long before each due time)")
	}
}
