// Package ampstest is a strict, in-process, AMPS-compatible server for tests and benchmarks,
// in the spirit of net/http/httptest. It implements the "minimal conforming test server" of
// the project's AMPS protocol notes (amps-protocol.md §7) over TCP and unix sockets: logon
// (accept-all, fixed password, challenge), publish and delta_publish with received, processed
// and persisted acks (immediate or conflated), per-client-name duplicate elimination kept
// across connections, flush, heartbeat, subscribe/unsubscribe fan-out, fault hooks, and
// counters. It does not import "testing": cmd/loadgen embeds it.
//
// # Strictness
//
// A connection is closed, as a real AMPS server would, on: a header that frame.Header.Parse
// rejects (whitespace outside strings, bytes before '{', an unterminated string, a control
// character, an empty header, a bad number, ...), a header without "c", an "a" list with an
// unknown word, a frame larger than Config.MaxFrame, a stream that ends inside a frame, and any
// command before a successful logon (after a "logon required" failure ack when an ack was
// requested). Unknown header keys are ignored (amps-protocol.md §7.2). Every close is counted
// by reason in Stats.Closes.
//
// # Goroutines, ordering and backpressure
//
// Each listener has one accept goroutine; each connection has exactly two: a reader that
// parses and processes frames strictly in order (so a processed ack means every earlier frame
// of that connection has been handled), and a writer that owns the socket's write side and
// coalesces every queued frame into one write. Producers (the connection's own reader for
// acks, other connections' readers for deliveries, the writer itself for heartbeats and
// conflated persisted acks) append encoded frames to a per-connection outbound buffer and wake
// the writer through a 1-slot channel. When a connection's queued output reaches
// Config.MaxOutbound bytes, producers block until its writer drains it: a subscriber that does
// not keep up slows every publisher that delivers to it (no message is ever discarded), and a
// client that does not read its acks eventually stops its own connection from being read.
// Memory per connection is therefore bounded by about ReadBufferSize + 2 × MaxOutbound plus the
// largest frame. Close stops the listeners, closes every connection and waits for every
// goroutine, so a test can check runtime.NumGoroutine afterwards.
//
// # Fast discard path
//
// A frame whose header is exactly {"c":"p","t":"<topic>"} or {"c":"publish","t":"<topic>"}
// (no ack, no sequence, no other key, a topic without escapes or control characters) is
// recognised by a validating scanner that accepts only headers frame.Header.Parse would accept
// with the same meaning; every other header goes through the full strict parser. A
// connection remembers the last header the scanner accepted: a frame that begins with
// exactly those bytes (a publisher's usual stream to one topic) is recognised by one
// comparison instead of a scan. While no
// subscription, rejected topic, pause, CloseAfterFrames, DropDelivery or recording is active
// server-wide, such a frame is counted and discarded without parsing, locking or allocating;
// counters are accumulated per connection and published to the shared atomics before every
// socket read and before any other command is handled, so Stats is exact whenever the server
// is idle or has acked a later command.
//
// Stored publishes, as a client with a publish store sends them, take the same path:
// {"c":"p","t":"<topic>","a":"persisted","s":<seq>} (or "c":"publish"), with nothing after
// the digits but the header's '}'. The connection caches the last such header up to and
// including "s": and, for a frame that begins with exactly those bytes, parses only the
// digits: 1 to 20 of them, no leading zero, a value that fits 64 bits and is not 0, then '}'.
// When the cached header's number has 4 to 19 digits the cache also holds all of them but the
// last three, so that a publisher's next thousand sequence numbers cost the comparison and
// three digits; a frame that matches the cache but not that shape goes to the scanners, which
// cache it anew.
// Anything else (a leading zero, a quoted or signed number, a space, another key after "s",
// "s":0) goes through the strict parser, as does every stored publish while a FailSequence
// fault is pending or any of the conditions above holds. A recognised stored publish is
// handled as the strict path handles it: the sequence accepted if it is above the client
// name's last one or else counted and acked as a duplicate (Config.DuplicateStatus),
// counters, and the persisted ack, immediate or conflated. With conflated acks the discard
// path works a batch at a time: the counters of stored publishes handled in a row are
// accumulated like a plain publish's, and the conflated ack is requested once, for the
// highest sequence, before the next socket read, any frame the strict path handles and any
// duplicate's failure ack (a client sees the same acks: they cover the same sequences).
// While no second server has joined its State, such a batch also holds the client name: it
// takes the name's lock at its first stored publish, judges sequences against its own copy
// of the name's last one, and publishes it when the batch ends, instead of a CAS on the
// shared record per frame. Everything else that sets or reports the name's last sequence
// (the strict path, for its decision only, not across its acks; a logon ack;
// SetLastSequence; Forget) takes the same lock, so a second connection of the name sees a
// batch whole, and a connection replaced while it waits for the lock drops its frame
// (TestConflatedBatchTakeover, TestBatchHoldIsWaitedFor,
// TestReplacedConnectionDropsWaitingBatch, TestLogonNotBlockedByWithheldAcks). Once a
// second server joins the State (a group, or Server.State passed on as Config.State) it
// waits for the batches in flight, and from then on every member, as immediate acks always
// do, uses the CAS per frame (TestBatchHoldAfterStateShared, TestStateSharedMidBatch,
// TestJoinWaitsForBatches).
// Every ack is subject to WithholdAcks, DelayAcks and the DropPersistedAcks hooks like any
// other; it does not allocate (TestStoredDiscardPathZeroAllocs). On either path, a successful
// persisted ack with a sequence is written from a per-connection template derived from
// frame.AppendAck's output (and checked against it) with only the two copies of the sequence
// formatted. TestStoredFastPathMatchesStrict
// plays the same frames through both paths and compares every byte sent back, every counter
// and every recorded frame.
//
// A publish through the strict path does not allocate in steady state either: it is encoded
// into each subscriber's outbound buffer (bookmark and timestamp formatted into
// per-connection scratch space), and its acks, persisted acks included, into the
// connection's own. Only buffer growth, a wait for outbound space (MaxOutbound), a topic's
// first use and the Record hook allocate (TestDeliverZeroAllocs, TestDeliveryServeAllocs).
//
// # Fault hooks
//
// Every hook (CloseAfterFrames, KillPublishers, PauseReading/ResumeReading, Stall/Unstall,
// WithholdAcks, DelayAcks, DropPersistedAcks, DropPersistedAcksRandomly, FailSequence,
// RejectTopic/AllowTopic, DropDelivery, DropClient, SendGarbage, SetLastSequence, Record) is
// safe to call concurrently with traffic and applies to this server only; see each method for
// its exact scope. The seeded ones (KillPublishers, DropPersistedAcksRandomly) take the seed as
// an argument, so a test that prints it can be replayed. Stats.Faults counts every fault
// injected, by kind.
//
// # Crashes, restarts and replicated groups
//
// Stop closes the listeners and every connection abruptly, as a crashed server; Start listens
// again on the same TCP port and unix socket path; Restart(keepState) is both, keeping or
// forgetting the per-client-name records (a server that lost its transaction log answers a
// logon with a lower sequence: a gap). Servers created with the same Config.State (NewState)
// form a replicated group: they share the per-client-name records (duplicate elimination by
// client name and sequence across the group) and the subscriptions (a publish accepted by any
// member reaches every member's subscribers once), while connections, hooks and counters stay
// per server, so stopping one member leaves the others' connections alone.
package ampstest
