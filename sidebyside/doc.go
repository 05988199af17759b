// Package sidebyside measures fastpub against the most a publisher can do
// on the same machine, with the receiving end in a separate process.
//
// # The sink
//
// The sink is this binary re-executed as a child (SinkEnv; StartSink,
// RunSinkIfChild). It listens on a unix socket in a temporary directory
// (and, when asked, on 127.0.0.1:0) and speaks just enough AMPS: it reads
// frames with a 1 MiB buffer, answers a logon with a processed ack (status
// success, "s" = 0 or the highest sequence it saw for that client name,
// version 5.3.4.0), answers a flush with its ack after everything before
// it, and for publishes that ask for a persisted ack ("a":"persisted" with
// "s":N) sends conflated persisted acks: the highest s seen, at most once
// per millisecond (DefaultAckInterval), and also at the end of any read
// that brought 16,384 (DefaultAckFrames) stored publishes since the last
// ack; a persisted flush first forces out the ack that covers everything
// before it. Publishes in the shape fastpub sends are read by a scan of
// their few header keys; every other frame by the strict frame parser. It
// counts publishes, frames and bytes. In a latency run it reads the first 8
// bytes of each payload as a CLOCK_MONOTONIC stamp (little endian, ns) and
// records arrival (the read that returned the frame) minus stamp in an
// HdrHistogram. The parent drives it over stdin/stdout, one JSON object per
// line: begin (reset counters and histogram, take a CPU baseline), end
// (report counts, the sink's own CPU from getrusage RUSAGE_SELF, and the
// histogram). When stdin closes it writes a final report and exits.
//
// # Throughput rows
//
// Each run sends Config.Messages messages as fast as it can, for each
// payload size:
//
//   - ceiling: pre-encoded publish frames, byte for byte what fastpub sends
//     without a store, written in contiguous writes of about 64 KiB (whole
//     frames) from one goroutine on a bare connection;
//   - fastpub1: fastpub, one producer calling Publish, default options;
//   - fastpubN: fastpub, Config.Producers (4) producers on one client;
//   - store: fastpub, one producer, fastpub.WithStore(store.NewMemory(...)):
//     every publish carries "s" and asks for a persisted ack.
//
// The clock runs from the first write or publish until the ack of a final
// flush (PublishFlush for fastpub, a raw flush for the ceiling): the sink
// has then read every message, and with a store persisted-acked them. The
// sink must have counted exactly Messages publishes, or the harness fails.
// CPU per message: the publishing process's (this process: getrusage
// RUSAGE_SELF user+system over the run, divided by the messages; nothing
// else heavy runs in it) and the sink's (its own getrusage over the run).
// Setup (connect, logon, a GC) happens before the clock starts.
//
// # Latency rows
//
// Paced at each rate for Config.LatDur: message i is due at t0 + i/rate;
// the publisher spins on the monotonic clock until then (no sleep: a
// sleeping pacer wakes hundreds of microseconds late on a VM), stamps the
// due time into the payload and sends it. So a stall is charged to every
// message it delayed. Rows: inline (the same loop writing each pre-encoded
// frame with one write() from the publishing goroutine: the floor) and
// fastpub (Publish, default options). Above about 100,000 msgs/s the inline
// floor cannot keep up on a small machine and falls behind; a loop more
// than 3 durations behind stops sending.
//
// # Rounds and the report
//
// Every row runs once per round, rounds interleaved (round 1: every row,
// round 2: every row in reverse order, ...), so that the machine's slow
// phases hit every row. The summary gives medians over rounds with the
// range, ratios to the ceiling of the same size, 4 producers / 1, store on
// / off, and fastpub / inline for each latency percentile, every ratio as
// the median of per-round ratios. Results.WriteMarkdown prints the tables
// for README; Results.WriteJSON everything, each run included.
//
// Command: go run ./cmd/sidebyside (-quick for a run under 20 s; -h for the
// flags).
package sidebyside
