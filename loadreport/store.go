package loadreport

import (
	"fmt"
	"time"
)

// Store is what the file stores of a run (--store, one per connection)
// did, summed over the connections unless a field says otherwise. The
// figures "at the end" are read after the final flush, before Close
// (which flushes everything to disk); the peaks and the lag's maximum come
// from samples taken every 10 ms while publishing. Lags are in sequence
// numbers (messages): AppendedThrough − DurableThrough of a store, what a
// crash of the machine (not of the process) would lose from it.
type Store struct {
	Stores          int   `json:"stores"`        // file stores, one per connection
	SegmentBytes    int   `json:"segment_bytes"` // data bytes of one segment file
	BytesOnDisk     int64 `json:"bytes_on_disk"` // at the end: segments, meta and state files
	BytesOnDiskPeak int64 `json:"bytes_on_disk_peak"`
	Segments        int   `json:"segments"` // segment files at the end
	SegmentsPeak    int   `json:"segments_peak"`
	// DurableLagMax and DurableLagEnd are the largest durable-through lag
	// of any one store, sampled, and at the end.
	DurableLagMax uint64 `json:"durable_lag_max"`
	DurableLagEnd uint64 `json:"durable_lag_end"`
	Syncs         uint64 `json:"syncs"`        // flushes (group commits, every-publish msyncs)
	AppendWaits   uint64 `json:"append_waits"` // appends that waited for their segment
	Errors        uint64 `json:"errors"`       // background errors, which the store retries
	FirstError    string `json:"first_error,omitempty"`
	// What Open found: records above the persisted state, the torn tail it
	// cut and the ranges of damaged records (each reported as an error).
	RecoveredRecords uint64 `json:"recovered_records"`
	TornBytes        int64  `json:"torn_bytes"`
	LostRanges       int    `json:"lost_ranges"`
	// Recovered is the frames the clients loaded from the stores at their
	// first logon to replay (fastpub Stats.Recovered: above the server's
	// last sequence); Lost the sequence numbers the stores had kept and
	// could not recover (Stats.StoreLost).
	Recovered uint64 `json:"recovered"`
	Lost      uint64 `json:"lost"`
}

// fileStoreText is the store line of a file store: kind, directory,
// durability, limits.
func (wl *Workload) fileStoreText() string {
	dur := wl.Durability
	switch wl.Durability {
	case "none":
		dur = "durability none (page cache: survives a crash of the process, not of the machine)"
	case "group":
		dur = fmt.Sprintf("durability group (msync every %s or %s, whichever first)",
			time.Duration(wl.SyncInterval*1e9), IBytes(uint64(wl.SyncBytes)))
	case "every-publish":
		dur = "durability every-publish (each publish flushed before it returns)"
	}
	return fmt.Sprintf("file store in %s (connection i's in %s/<client name>), %s, %s / %s messages each",
		wl.StoreDir, wl.StoreDir, dur, IBytes(uint64(wl.StoreBytes)), Commas(uint64(wl.StoreMessages)))
}

// DiskText is the report's disk line.
func (s *Store) DiskText() string {
	return fmt.Sprintf("%s in %s segment(s) at the end, peak %s in %s (%d store(s), %s segments)",
		IBytes(uint64(s.BytesOnDisk)), Commas(uint64(s.Segments)), IBytes(uint64(s.BytesOnDiskPeak)), Commas(uint64(s.SegmentsPeak)),
		s.Stores, IBytes(uint64(s.SegmentBytes)))
}

// DurableText is the report's durable line.
func (s *Store) DurableText() string {
	t := fmt.Sprintf("lag max %s, at the end %s (sequence numbers appended, not yet on disk); %s sync(s), %s append wait(s), %s background error(s)",
		Commas(s.DurableLagMax), Commas(s.DurableLagEnd), Commas(s.Syncs), Commas(s.AppendWaits), Commas(s.Errors))
	if s.FirstError != "" {
		t += ", first: " + s.FirstError
	}
	return t
}

// RecoveryText is the report's recovery line.
func (s *Store) RecoveryText() string {
	return fmt.Sprintf("at open: %s record(s) above the persisted state, %s torn byte(s) cut, %s damaged range(s); %s frame(s) replayed at the first logon, %s sequence number(s) lost",
		Commas(s.RecoveredRecords), Commas(uint64(s.TornBytes)), Commas(uint64(s.LostRanges)), Commas(s.Recovered), Commas(s.Lost))
}

// add sums o into s (merging runs): counts and sizes are summed (the peaks
// too: an upper bound for runs side by side), lags take the largest.
func (s *Store) add(o *Store) {
	s.Stores += o.Stores
	s.SegmentBytes = max(s.SegmentBytes, o.SegmentBytes)
	s.BytesOnDisk += o.BytesOnDisk
	s.BytesOnDiskPeak += o.BytesOnDiskPeak
	s.Segments += o.Segments
	s.SegmentsPeak += o.SegmentsPeak
	s.DurableLagMax = max(s.DurableLagMax, o.DurableLagMax)
	s.DurableLagEnd = max(s.DurableLagEnd, o.DurableLagEnd)
	s.Syncs += o.Syncs
	s.AppendWaits += o.AppendWaits
	s.Errors += o.Errors
	if s.FirstError == "" {
		s.FirstError = o.FirstError
	}
	s.RecoveredRecords += o.RecoveredRecords
	s.TornBytes += o.TornBytes
	s.LostRanges += o.LostRanges
	s.Recovered += o.Recovered
	s.Lost += o.Lost
}
