// Package ring is the lock-free multi-producer, single-consumer BYTE ring of
// the publish path.
//
// Producers on any goroutines Claim a frame of n bytes, encode it into
// Claim.Buf and Commit it. ONE consumer goroutine (the writer) calls Wait,
// then Peek, which hands out the committed bytes as a logical byte STREAM in
// claim order: arena bytes as one slice per contiguous run (two where a run
// wraps the arena end) and each external frame as its own entry, ready for
// one writev. The writer then calls Release(written). The arena holds only the
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
// word, then two full (64-bit) bases, F and a committed frame count S0,
// reconstructs the full counters as
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
//     external frames already queued by their committers; a cached F is an
//     older F). Every successful claim checks pos+n - F_cached <= 2^35 (an
//     inline one even <= Size), refreshing the cache first if needed, and a
//     fresh F always passes: claimed - F <= Size + external bytes in flight
//     <= 2^30 + 2^32 (Config caps MaxExternal and MaxClaim at 4 GiB). So the
//     distance stays below 2^36.
//   - S0 is a committed frame count (the consumer's snapshot at its last
//     Peek), so S0 <= claimed frames, and Claim refuses (blocks) while
//     claimed - S0 >= MaxFrames (at most 2^24), so the distance stays below
//     2^27.
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
// # Commit: ordered, without waiting for inline frames
//
// The commit word has the same layout without the closed bit: the frames and
// the stream position committed so far, which is all the consumer reads. A
// commit table of MaxFrames uint64 slots sits beside it. Commit of inline
// frame s, spanning [start, End):
//
//   - in order (commit word == (s, start)): store (s+1, End). Nobody else can
//     move the word off (s, start), since only frame s's table slot can let a
//     helper pass it and it is not written on this path.
//   - out of order: store End in slot s mod MaxFrames, then re-load the
//     commit word; if it has meanwhile become (s, start), CAS it to
//     (s+1, End).
//   - whoever moves the word to (s+1, End) then "helps": it loads slot s+1,
//     and while that slot holds an End beyond the current position, CASes
//     the word one frame further. A slot left over from an older frame holds
//     an End at or below the current position and stops the walk; a slot
//     cannot hold a newer frame's End, because frame s+MaxFrames cannot be
//     claimed before the consumer has seen the word pass s. A failed CAS
//     means another goroutine made the same step and carries on.
//
// The slot store and the word store are sequentially consistent, and each
// side loads the other's location after its own store, so either the
// out-of-order committer sees its turn or its predecessor's helper sees its
// slot: no frame is left committed but unpublished. A wrapped claim is copied
// into the arena before any of this. External frames must enter the
// external queue in stream order, so their Commit waits for its turn (the
// word == (s, start); a bounded spin, then runtime.Gosched), queues the
// entry, stores the word and helps. The consequence: a producer descheduled
// between Claim and Commit delays the visibility of every later frame (their
// Commits return at once, their bytes wait; once the arena or MaxFrames is
// used up, later Claims block), and an external frame's Commit
// waits for its predecessors; nothing is ever corrupted or reordered, and
// the consumer never sees a byte range whose producer has not committed.
// In-order commits cost one load and one store. (A first version waited in
// every out-of-order Commit, as the API sketch proposed; with 4 producers on
// 2 cores it spent most of its time in runtime.Gosched, about 600 ns per
// frame.)
//
// # Wake-ups
//
// Producer to consumer (no lost wake-up): Wait spins briefly, then stores
// parked=1, re-loads the commit word, and only then parks on a 1-slot channel.
// Every Commit that moved the commit word (its own frame, or frames it
// helped publish), after that store or CAS, loads parked; if it is set, it
// clears it (CAS, so one committer sends) and does a non-blocking send on the
// channel. An out-of-order Commit that left its frame to a helper does not:
// the helper's Commit does. Go's atomics are sequentially consistent, so either
// the consumer's re-check sees the commit or the committer sees parked=1 and
// leaves a token that the consumer's receive takes. A stale token only costs
// one extra loop.
//
// Consumer to producers: a Claim that finds the ring full spins, yields, then
// increments waiters, re-checks (reading the consumer's cursors themselves),
// and parks in a select on a 1-slot channel, ctx.Done() and the close
// channel. Release (and Peek when it moves F, and a producer giving back
// external budget) stores its cursors, then loads waiters and, if non-zero,
// does a non-blocking send. The same store/load ordering argument rules out
// a lost wake-up. One token wakes one producer; a woken producer that claims
// successfully passes a token on while waiters remain, so a large release
// wakes the parked producers in a chain (channel receivers are served in
// FIFO order). Close closes the close channel, which wakes every parked
// producer and the consumer. No allocation anywhere: the channels exist from
// New.
//
// # Bounds and ownership
//
// Memory is the arena, the commit table (8 bytes x MaxFrames), the wrap
// scratch (MaxInline), the external queue (at most 4096 entries) and external
// buffers up to max(MaxExternal, MaxClaim). Nothing grows with the number of
// frames. Claim.Buf is owned by the ring; the producer must not touch it
// after Commit. Peek's slices alias the ring until Release covers them.
// Release is the single point where bytes are freed, so a later publish store
// can keep frames until an ack by releasing later.
package ring
