// Package filestore is the crash-safe file-backed publish store of fastpub
// (a store.Store): every frame the client stores is copied into a
// memory-mapped file before Publish returns, and a later process recovers,
// verified, every frame the server had not persisted.
//
// # The log
//
// Frames go into one dense logical log, in sequence order, back to back: the
// record of frame (seq, pos) starts at logical offset
//
//	L0 + (pos − pos0) + 20·(seq − seq0)
//
// where (seq0, pos0) is Begin's and L0 the start of a fresh segment after
// everything recovered. A producer computes its place from its own numbers:
// Append takes no lock, makes no atomic write, allocates nothing, and makes
// no system call (except in DurabilityEveryPublish). The log is cut into
// segment files of Options.SegmentBytes; a record may straddle two. The
// segments the client's whole bound needs are created at Open, allocated
// in full (fallocate: a write into a mapped page can never fault for want of
// space) and mapped shared; the store's own goroutine recycles the
// segments whose records are all persisted into the segments ahead (zeroed,
// renamed, still mapped: no allocation), and
// prefaults the segment after the producers' current one
// (MADV_POPULATE_WRITE) so that their first write to a page does not fault.
//
// # Files
//
// A store is a directory: "lock" (flock(2), so that one Open holds it),
// "meta" (magic, format version, byte order mark, segment size, the client
// name, CRC32C; written once, atomically), "state" (two checksummed slots
// written in turn with the highest sequence known persisted and the highest
// used, so that Recovery survives the deletion of every segment) and the
// segments "seg-%016x" (a 4 KiB header: magic, version, index, size,
// CRC32C; then the data). A record is, little-endian: magic u32, CRC32C u32,
// seq u64, len u32, then the frame's len bytes. The CRC covers the record's
// logical offset (not stored: it binds the record to its place, so that a
// stale or embedded image never validates elsewhere), seq, len and the
// frame. DESIGN.md ("The file store") has every field.
//
// # Recovery
//
// Open verifies every record: at each offset a record is valid if its
// magic, length and CRC match there; if not, the scan searches forward for
// the next magic. Holes (never written space, SEEK_DATA) are skipped
// unread. Invalid bytes between two valid records are damage when they are
// not all zeros: the sequence numbers between the two are reported in
// Recovery.Lost, and every record after them is kept (the official file
// store drops everything after a bad record). Zeros are unwritten space (a
// frame claimed and never appended): nothing lost. Non-zero bytes after
// the last valid record are a torn tail: cut (overwritten with zeros, so
// never read again), counted in Stats.TornBytes, and reported lost for the
// sequence numbers the persisted state says were used. What damage cost is
// written to the lost file before the tail is cut, and every Open reports
// it again until a Begin (the client has had it from Recover). Recover then
// hands the records above the persisted state to the client, in order,
// byte for byte. The CRC work of searching damaged bytes is bounded (64 MiB
// + 8 × the segments' bytes), so a crafted file cannot make Open slow.
//
// # Durability
//
// DurabilityNone (default): the frames are in the page cache as soon as
// Append returns, and survive a crash or kill of the process; a crash of the
// machine or a power loss loses what the kernel had not written back. Sync
// and Close flush. DurabilityGroup: the store's goroutine flushes (msync
// MS_SYNC) what was committed every Options.SyncInterval or
// Options.SyncBytes, whichever comes first; DurableThrough says how far, and
// a machine crash loses only frames above it. DurabilityEveryPublish:
// Append flushes its record's pages before it returns: a publish that
// returned survives a machine crash, at a disk flush per publish.
//
// Close must not run concurrently with Append (the client closes its ring
// and waits for its producers first).
package filestore
