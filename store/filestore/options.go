package filestore

import (
	"math/bits"
	"strconv"
	"time"

	"github.com/fastpub/fastpub/store"
)

// Durability says when appended frames reach the disk.
type Durability int

const (
	// DurabilityNone (the default) keeps frames in the page cache through
	// a shared mapping: they survive a crash of the process (the kernel
	// writes the pages back), not a crash of the machine or a power loss.
	// Append makes no system call; only Sync and Close flush.
	DurabilityNone Durability = iota
	// DurabilityGroup adds group commit: the store's own goroutine flushes
	// the committed frames (msync MS_SYNC) every SyncInterval or every
	// SyncBytes, whichever comes first, and DurableThrough says how far
	// that got. A machine crash loses at most the frames committed since
	// the last flush. Publishers never make a system call.
	DurabilityGroup
	// DurabilityEveryPublish flushes each record's pages in Append before
	// it returns, so that a publish that returned is on disk: the only mode
	// where Append makes a system call (one msync, about a disk write's
	// latency).
	DurabilityEveryPublish
)

func (d Durability) String() string {
	switch d {
	case DurabilityNone:
		return "none"
	case DurabilityGroup:
		return "group"
	case DurabilityEveryPublish:
		return "every-publish"
	}
	return "Durability(" + strconv.Itoa(int(d)) + ")"
}

// Defaults of Options.
const (
	// DefaultSyncInterval is the group-commit interval (2 ms).
	DefaultSyncInterval = 2 * time.Millisecond
	// DefaultSyncBytes is the group-commit size (1 MiB).
	DefaultSyncBytes = 1 << 20
	// MinSegmentBytes and MaxSegmentBytes bound Options.SegmentBytes.
	MinSegmentBytes = minSegment
	MaxSegmentBytes = maxSegment

	minSegment = 64 << 10
	maxSegment = 1 << 30
)

// Options configure Open. The zero value is the defaults.
type Options struct {
	// Limits bound what the client keeps unpersisted; zero fields take
	// store.DefaultBytes (64 MiB) and store.DefaultMessages (1 Mi). The
	// store reserves disk space for the whole bound at Open (see Open).
	Limits store.Limits
	// SegmentBytes is the data size of one segment file, a power of two in
	// [MinSegmentBytes, MaxSegmentBytes]; default Limits.Bytes/4 clamped to
	// [1 MiB, 64 MiB]. It applies when the store is created: an existing
	// store keeps the size its meta file records.
	SegmentBytes int
	// Durability says when frames reach the disk; default DurabilityNone.
	Durability Durability
	// SyncInterval is the longest a committed frame waits for its flush in
	// DurabilityGroup, in (0, 10 s]; default DefaultSyncInterval (2 ms).
	SyncInterval time.Duration
	// SyncBytes makes DurabilityGroup flush as soon as that many bytes were
	// committed since the last flush, in [4 KiB, 1 GiB]; default
	// DefaultSyncBytes (1 MiB).
	SyncBytes int
	// OnError receives the errors of the store's background work (creating
	// and deleting segments, flushing, writing the persisted state), which
	// it retries; nil drops them (Stats counts them).
	OnError func(error)
}

func (o Options) withDefaults() (Options, error) {
	if o.Limits.Bytes == 0 {
		o.Limits.Bytes = store.DefaultBytes
	}
	if o.Limits.Messages == 0 {
		o.Limits.Messages = store.DefaultMessages
	}
	if err := o.Limits.Validate(); err != nil {
		return o, invalid("Limits: %v", err)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = min(max(o.Limits.Bytes/4, 1<<20), 64<<20)
	}
	if o.SegmentBytes < minSegment || o.SegmentBytes > maxSegment || o.SegmentBytes&(o.SegmentBytes-1) != 0 {
		return o, invalid("SegmentBytes %d is not a power of two in [%d, %d]", o.SegmentBytes, minSegment, maxSegment)
	}
	if o.Durability < DurabilityNone || o.Durability > DurabilityEveryPublish {
		return o, invalid("Durability %d", int(o.Durability))
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.SyncInterval < 0 || o.SyncInterval > 10*time.Second {
		return o, invalid("SyncInterval %v is not in (0, 10s]", o.SyncInterval)
	}
	if o.SyncBytes == 0 {
		o.SyncBytes = DefaultSyncBytes
	}
	if o.SyncBytes < 4096 || o.SyncBytes > 1<<30 {
		return o, invalid("SyncBytes %d is not in [4096, 1 GiB]", o.SyncBytes)
	}
	return o, nil
}

// ahead is how many segments the store keeps ready from the first
// unpersisted record: room for the client's whole bound (arena and
// oversized buffers, 2·Bytes, plus a record header per message) and two
// segments for the straddles at both ends.
func ahead(l store.Limits, segBytes uint64) uint64 {
	msgs := uint64(1) << bits.Len64(uint64(l.Messages)-1)
	bound := 2*uint64(l.Bytes) + recHdr*msgs
	return (bound+segBytes-1)/segBytes + 2
}
