// Command loadgen is a load generator for AMPS publishers built on fastpub:
// it publishes a workload you describe, paced or flat out, over one or more
// connections, and reports throughput, publish-to-wire latency percentiles,
// allocations and the machine it ran on, optionally checking that every
// message arrived.
//
// Usage:
//
//	loadgen [flags]                     publish, then print a report
//	loadgen serve [--listen ADDR]       run the embedded test server alone
//	loadgen selfcheck [--uri URI]       loadgen's msgs/s against a bare Publish loop's, same server
//	loadgen merge FILE...               merge several runs' JSON reports and interval logs
//
// Without --uri, loadgen starts the embedded ampstest server on 127.0.0.1
// (a free port) in its own process, says so on stderr, and publishes to it,
// so the defaults need nothing else: 5 seconds, as fast as possible, one
// connection, one producer goroutine, 128-byte JSON payloads, topic
// "loadgen". The embedded server shares the machine's CPUs with the
// publisher; for numbers that stand for a deployment, point --uri at one.
//
// Examples:
//
//	loadgen                                         # 5 s against the embedded server
//	loadgen --count 1M --producers 4 --size 1KiB
//	loadgen --rate 50k --duration 30s --hist lat.hgrm   # paced; plot lat.hgrm (and lat-enqueue.hgrm)
//	loadgen --uri tcp://amps1:9007/amps/json --topics ticks:100 --template templates/tick.json --verify
//	loadgen --ack processed --flush-every 100 --json | jq .latency.wire
//	loadgen --ack persisted --verify                # a memory publish store
//	loadgen --uri tcp://a:9007/amps/json --uri tcp://b:9007/amps/json --ack persisted \
//	        --verify --verify-uri tcp://c:9007/amps/json   # fail over between a and b, verify on c
//	loadgen serve --listen 127.0.0.1:9007           # then: loadgen --uri tcp://127.0.0.1:9007/amps/json
//
// # Pacing and latency
//
// With --rate R, message i of the run (across all producers) is due at
// start + i/R. A producer that is ahead waits for the next due time; one that
// is behind sends what is overdue back to back, never sooner than due. Every
// latency is measured from the due time, so a stall is charged to every
// message it delayed (no coordinated omission). Without --rate each send
// starts when the previous one returned, and its due time is that start.
//
// The headline is the "publish-to-wire latency": from the due time to the
// return of fastpub's writev that handed the frame to the kernel. fastpub
// tells it off the hot path (Client.Queued right after a publish, then
// Client.WireTime, which remembers the last 1024 writev calls), so loadgen
// samples it: 1 message in 64 per producer flat out, 1 in 16 paced (sparser when the send buffer
// could hold more samples than a fixed queue of at most 8192 per producer),
// resolved in passes from the producer loop (every 256 of the connection's
// messages, about) and once more after the final flush. Nothing is allocated
// per message. A sample that cannot be resolved is counted, not hidden: rolled
// out of the 1024-write log, never written (the connection failed), or not
// taken (queue full); the report prints the counts. With several producers on
// one connection a sample's stream position may include frames other
// producers queued just after it, so each value can only be later than the
// frame's own: an over-estimate, and the report says so. The time is taken
// when the writer goroutine runs again after the system call, so a
// scheduling delay there counts too.
//
// The second line, "publish (enqueue) latency": from the due time to the
// publish call returning, with the frame in fastpub's send buffer, not yet
// written. Paced, every message; flat out, the same 1 in 64 (the clock is
// read before and after those; the others share one reading per 64
// messages, so that loadgen's own cost stays a few nanoseconds a message:
// see "Overhead" below). With --verify, "publish-to-delivery latency"
// runs from the due time stamped in each payload to the verifying subscriber
// reading it (same process, same clock). With --ack processed, a further
// histogram measures each PublishFlush.
//
// # Payloads
//
// --size N sends generated N-byte JSON payloads. --template FILE sends the
// file's contents with these fields filled per message, rendered into a
// reused buffer (no allocation):
//
//	{{seq}}       the producer's sequence number, from 1
//	{{ts}}        Unix nanoseconds: the due time at a fixed --rate, else the send's start
//	{{symbol}}    drawn at random from --symbols
//	{{producer}}  the producer's number, unique in the run
//	{{stamp}}     53 letters and digits: run, producer, sequence, due time (--verify reads it)
//
// templates/tick.json is a market-data tick.
//
// # Verification
//
// --verify subscribes (package subscriber; tcp and unix, not tcps) to every
// topic before publishing and checks that each message arrives exactly once
// and, per producer and topic, in order. It reports lost, duplicated and
// out-of-order counts and fails the run on any. After the final flush, each
// connection publishes an end marker per topic; once all have arrived the
// verdict is final, otherwise loadgen waits at most --verify-timeout. One
// subscriber connection reads everything, so at high rates it, not the
// publisher, sets the pace (watch the ring fill and the delivery latency).
// Works against the embedded server and any AMPS; messages from other
// publishers on the same topics are ignored.
//
// # Publish store and failover
//
// --ack persisted gives every client a memory publish store
// (fastpub.WithStore(store.NewMemory(...)), bounded by --store-bytes and
// --store-messages, which also size the send buffer): every publish
// carries a sequence number and asks for a persisted ack, and every flush
// (--flush-every, --flush-interval, the final one) returns once the server
// has persisted everything before it. --uri may be repeated: the first is
// where each connection connects, the others are ReconnectPolicy.Servers;
// with more than one, or with --reconnect, the client reconnects by itself
// (fastpub.WithReconnect, --max-outage as its MaxOutage, --connect-timeout
// per attempt) and replays what the server has not persisted. The report's
// resilience part counts disconnects, reconnect attempts, reconnects,
// failovers (a reconnect to another server than the one lost), replayed
// frames and failed writes by reason, from Client.Stats after Close and
// from the client's event and failed-write handlers; JSON keeps the first
// 256 connection events. A lost connection the client recovers from is not
// an error; a failed write, a publish gap or a client giving up fails the
// run. --verify-uri puts the verifier on another member of a replicated
// group, so that a failover does not take the subscriber down with the
// publisher's server; with a store, --verify stays exact across reconnects.
//
// # Overhead
//
// Flat out, loadgen reads the clock once per 64 messages (and twice for
// each timed one), renders the payload once unless the template has a
// per-message field (the generated payload has one only with --verify:
// its stamp), and records one latency value per 64 messages. Before the
// run it measures the producer loop with the publish call left out: the
// report prints that as loadgen's own cost, next to the publish cost it
// measured (each producer's time per message less its own) and their
// ratio, warning above 15%; and the whole process's CPU per message
// (getrusage). `loadgen selfcheck` runs a bare Publish loop and loadgen
// against one server and reports the throughput ratio.
//
// # Report
//
// Messages, bytes (payload and wire), duration from the first send to the
// acknowledgement of the final flush, msgs/s, MB/s (10^6 bytes), latency
// percentiles p50 p90 p99 p99.9 max from an HdrHistogram (1 ns to 1 h, 3
// significant digits) for each latency above, the publish-to-wire sample
// counts (taken, unresolved and why), errors, the send buffer's fill (max and mean, sampled
// every 10 ms) and the writer's batching (bytes per writev, from
// fastpub's Client.Stats), CPU per message, loadgen's overhead,
// allocations and GC cycles during the run (whole
// process: the embedded server and subscriber are included), peak RSS,
// the command line, and a machine
// fingerprint (CPU, cores, cache line from cpuid, Go version).
// --json prints the same as one JSON object on stdout (latency.wire and
// latency.wire_sampling, latency.publish for the enqueue latency); --hist
// FILE writes the publish-to-wire HdrHistogram percentile distribution that
// HdrHistogram's plotter reads, and FILE-enqueue (lat.hgrm →
// lat-enqueue.hgrm), FILE-delivery and FILE-flush the others measured.
// Against the embedded server the report also cross-checks the server's
// count of accepted publishes.
//
// # Exit status
//
// 0 when the run completed cleanly; 1 on any publish or flush error, a
// failed connection (one the client recovered from by reconnecting does not
// count), a failed write or publish gap, a client that gave up reconnecting, a flush or a publish blocked longer than
// --flush-timeout, a lost, duplicated or reordered message (--verify), or a
// count mismatch with the embedded server; 2 on a command-line mistake; 130
// when interrupted (SIGINT/SIGTERM) without any of those. Output files
// (--hist, --cpuprofile) are checked before anything is published: a
// directory that does not exist is a command-line mistake (status 2). The
// shutdown (the final flush and Close) is bounded by one --flush-timeout
// from the end of publishing; a connection that failed is not drained, so a
// stopped server cannot hold the process past it. An interrupt stops
// the producers, flushes, and still prints the report; a second one quits at
// once.
//
// Run "loadgen -h" for every flag.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default handling: a second one
	// kills the process at once.
	context.AfterFunc(ctx, stop)
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
