// Package ring is the lock-free multi-producer, single-consumer BYTE ring of
// the publish path.
//
// Producers on any goroutines Claim a frame of n bytes, encode it into
// Claim.Buf and Commit it. ONE consumer goroutine (the writer) calls Wait,
// then Peek, which hands out the committed bytes as a logical byte STREAM in
// claim order: arena bytes as one slice per contiguous run (two where a run
// wraps the arena end) and each external frame as its own entry, ready for
// one writev. The writer then calls Sent(written). The arena holds only the
// bytes the producers wrote, back to back: no per-frame metadata, no padding.
// Nothing allocates on the claim, commit, peek and release paths, blocking
// included (the first use of an external buffer size may allocate in its
// pool).
//
// # Stream, arena and external frames
//
// Every frame occupies a range [End-n, End) of the stream; positions are
// uint64 byte counts since New, external frames included. An inline frame
// (n <= MaxInline) lives at arena offset (position mod Size): the arena is
// indexed by stream position, so consecutive inline frames are contiguous in
// the arena and the consumer gets long slices. A frame whose range crosses
// the arena end is written into the ring's wrap scratch buffer (contiguous for
// the encoder) and Commit copies it into the two arena parts. At most one
// unreleased claim can cross the arena end (two would be more than Size
// apart), so one scratch buffer of MaxInline bytes suffices.
//
// An external frame (n > MaxInline) gets a buffer from a
// github.com/valyala/bytebufferpool pool; its bytes count against
// MaxExternal (Claim blocks while that budget is used up; one frame is always
// admitted when no other is in flight) and its arena image, the arena bytes
// its stream range maps to, stays unused. The consumer keeps an arena floor F:
// the release position moved past committed external frames that start at or
// before it. No unreleased inline byte lies below F, so an inline claim
// [p, p+n) fits when p+n-F <= Size. The consequence: an external frame costs
// arena window (at most min(n, Size)) only while inline bytes claimed before
// it are unreleased; once the writer reaches it, F jumps past it.
//
// # Claim: one CAS word
//
// The claim word packs [closed:1][seq:27][pos:36]: the number of frames
// claimed and the stream position claimed, both truncated. Claim loads the
// word, then two full (64-bit) bases, F and S0 (the number of frames the
// consumer has released), reconstructs the full counters as
//
//	pos = F  + ((word - F)       mod 2^36)
//	seq = S0 + ((word>>36 - S0)  mod 2^27)
//
// checks capacity (pos+n-F <= Size for an inline frame; seq-S0 < MaxFrames)
// and CASes the word to (seq+1, pos+n). One CAS assigns the byte range and
// the frame index together, so Seq order is stream order and the Seq values
// have no gaps; a failed claim (full, closed, cancelled) changes nothing. The
// bases Claim reads are producer-side caches of the consumer's F and S0, on
// the claim word's cache line; a claim that looks full refreshes them from
// the consumer's line before it gives up, so the consumer's line is read only
// about once per arena's worth of claims. The reconstruction is exact because
// each base is at most the counter and less than the field's range behind it:
//
//   - F <= claimed position (F only moves over released bytes and over
//     external frames the consumer has seen; a cached F is an older F).
//     Every successful claim checks pos+n - F_cached <= 2^35 (an inline one
//     even <= Size), refreshing the cache first if needed, and a fresh F
//     always passes: claimed - F <= Size + external bytes in flight
//     <= 2^30 + 2^32 (Config caps MaxExternal and MaxClaim at 4 GiB). So the
//     distance stays below 2^36.
//   - S0 <= claimed frames, and Claim refuses (blocks) while claimed - S0 >=
//     MaxFrames (at most 2^24), so the distance stays below 2^27.
//
// The bases are loaded after the word. If the CAS succeeds the word did not
// change in between, so the bases (which never pass the claimed counters)
// are valid for it. If the word moved, the reconstruction may be off by a
// field's range, but then the CAS fails, or, when the attempt concludes
// "full", the word is re-loaded and the verdict is only reported if it is
// unchanged. The remaining hole is ABA: a goroutine paused between its load
// and its CAS while the other producers claim a multiple of 2^27 frames that
// are also exactly a multiple of 2^36 bytes (64 GiB), so that the word repeats
// bit for bit. That is the usual tagged-word argument (the Go runtime's
// lock-free stack relies on the same), and we accept it. The closed bit sits
// in the same word, so no claim can succeed after Close.
//
// # Commit: a table the consumer walks in order
//
// Beside the arena sits a commit table of MaxFrames uint64 entries (plus a
// pointer per entry for external buffers). Commit of frame s stores the
// frame's End (with a flag bit for an external frame, whose buffer it stores
// first) into entry s mod MaxFrames, and returns: producers never wait for
// each other and never touch the claim word's line again. A wrapped claim is
// copied into the arena before that store.
//
// The consumer keeps (next frame, committed position) and walks the table in
// frame order: while the next frame's entry holds an End beyond the committed
// position, that frame is committed; it advances, queueing external frames in
// its private queue. Any other value in the entry is the End of the frame
// MaxFrames (or a multiple) earlier, already walked, so at most the committed
// position, or zero: it stops the walk. It cannot be a newer frame's End:
// frame s+MaxFrames cannot be claimed before the consumer has released s
// (S0 counts released frames, which never pass the frames walked). So the consumer only ever sees a prefix of the
// stream in which every frame is committed, in claim order. The consequence
// of committing out of order: a producer descheduled between Claim and
// Commit delays the visibility of every later frame (their Commits return at
// once, their bytes wait; once the arena or MaxFrames is used up, later
// Claims block), and never corrupts or reorders anything.
//
// Consecutive frames use entries on different cache lines, so producers
// committing neighbouring frames do not contend, and the consumer pays one
// load per frame in its walk. Commit is one store, one load and no waiting.
// (A first version kept a shared commit word that an out-of-order Commit
// waited for, as the API sketch proposed: with 4 producers on 2 cores it
// spent most of its time in runtime.Gosched, about 600 ns per frame. A
// second one let out-of-order commits be published by their predecessors'
// Commits: no waiting, but 3-5 contended cache lines per frame, 150-200 ns
// per frame when two producers ran truly in parallel.)
//
// # Wake-ups
//
// Producer to consumer (no lost wake-up): Wait spins briefly, then stores
// waitSeq = next frame + 1, re-loads that frame's table entry, and only then
// parks on a 1-slot channel. Commit stores its entry, then loads waitSeq; if
// it names its own frame, it clears it (CAS, so one committer sends) and
// does a non-blocking send on the channel. Go's atomics are sequentially
// consistent, so either the consumer's re-check sees the commit or the
// committer sees waitSeq and leaves a token that the consumer's receive
// takes. Commits of later frames do not wake the consumer: they are not
// visible yet. A stale token only costs one extra loop.
//
// Consumer to producers: a Claim that finds the ring full spins, yields, then
// increments waiters, re-checks (reading the consumer's cursors themselves),
// and parks in a select on a 1-slot channel, ctx.Done() and the close
// channel. Release (and a walk that moves F or S0, and a producer giving back
// external budget) stores its cursors, then loads waiters and, if non-zero,
// does a non-blocking send. The same store/load ordering argument rules out
// a lost wake-up. One token wakes one producer; a woken producer that claims
// successfully passes a token on while waiters remain, so a large release
// wakes the parked producers in a chain (channel receivers are served in
// FIFO order). Close closes the close channel, which wakes every parked
// producer and the consumer. No allocation anywhere: the channels exist from
// New.
//
// # Sending, releasing, retaining
//
// The consumer keeps two cursors: the send position (where Peek starts) and
// the release position (below which space is free). Sent(n) advances the
// send position; without Config.Retain it also frees every frame that is now
// sent whole, so a frame cut by a partial write stays intact and Rewind can
// send it again from its first byte on a new connection. With Retain, Sent
// frees nothing: frames stay until DiscardThrough(seq), which frees every
// frame up to seq in O(1) (the frame's End is in its commit-table entry,
// which stays valid while the frame is unreleased, because MaxFrames counts
// frames claimed and not released), and Rewind sends every unreleased frame
// again, whole and in order. That makes the ring the publish store's memory:
// its bounds (Size, MaxExternal, MaxFrames) are the store's bounds, and a
// full store blocks Claim exactly as a full send buffer does. Release(n) is
// the older byte-exact form (frees n bytes, mid-frame if need be). Kick wakes
// a parked Wait without data, so the consumer can apply discards that
// another goroutine decided on.
//
// # Bounds and ownership
//
// Memory is the arena, the commit table (16 bytes x MaxFrames), the wrap
// scratch (MaxInline), the external queue (at most 4096 entries) and external
// buffers up to max(MaxExternal, MaxClaim). Nothing grows with the number of
// frames. Claim.Buf is owned by the ring; the producer must not touch it
// after Commit. Peek's slices alias the ring until the release position
// passes them. Release, Sent and DiscardThrough are the only points where
// bytes are freed.
package ring
