package ampstest

import (
	"hash/fnv"
	"strconv"
	"sync/atomic"
)

// Stats is a snapshot of the server's counters (a copy; the maps belong to the caller).
//
// Counters are accumulated per connection and published before every socket read and before
// any command other than a plain fast-path publish is handled, so they are exact whenever the
// server is idle and once the ack of a later command (a flush, say) has been sent.
type Stats struct {
	Frames     uint64 // inbound frames, every connection, malformed ones included
	Bytes      uint64 // inbound bytes of those frames, length prefixes included
	Publishes  uint64 // accepted publish and delta_publish commands (not duplicate, not rejected)
	Duplicates uint64 // publishes dropped because their "s" was not above the client's last
	Rejected   uint64 // publishes refused: not entitled (RejectTopic), invalid topic, or FailSequence
	Delivered  uint64 // delivery frames queued to subscribers
	Dropped    uint64 // accepted publishes withheld from subscribers by DropDelivery

	Connections      int    // live connections
	ConnectionsTotal uint64 // connections ever accepted

	Faults Faults // injected faults by kind

	Closes    map[CloseReason]uint64 // server-side connection closes by reason
	PerTopic  map[string]TopicStats
	PerClient map[string]ClientStats
}

// TopicStats are the counters of one topic.
type TopicStats struct {
	Publishes  uint64 // accepted publishes
	Bytes      uint64 // payload bytes of accepted publishes
	Duplicates uint64
	Rejected   uint64
	Delivered  uint64 // delivery frames queued (one per subscribed connection)
}

// ClientStats are the counters of one client name, across all its connections. Frames and
// Bytes count the frames after the logon that bound the name.
type ClientStats struct {
	Frames       uint64
	Bytes        uint64
	Publishes    uint64
	Duplicates   uint64
	Rejected     uint64
	Logons       uint64 // successful logons with this name
	LastSequence uint64 // highest accepted "s" (what a logon ack reports)
	Connected    bool   // a live connection holds the name
}

// Faults counts the faults a server injected, by kind, so that a chaos test can report what it
// did (print Stats().Faults with %+v). Each counts events on this server only.
type Faults struct {
	Stops             uint64 // Stop calls, Restart's included, that stopped a running server
	StateResets       uint64 // Restart(false) calls: the State's records forgotten
	Kills             uint64 // connections closed by KillPublishers
	ClosedAfterFrames uint64 // connections closed by CloseAfterFrames
	DroppedClients    uint64 // connections closed by DropClient
	DroppedAcks       uint64 // successful persisted acks not sent (DropPersistedAcks, DropPersistedAcksRandomly)
	DelayedAcks       uint64 // acks queued while DelayAcks was set
	WithheldAcks      uint64 // acks queued while WithholdAcks was on
	FailedSequences   uint64 // publishes failed by FailSequence
	NotEntitled       uint64 // publishes refused by RejectTopic
	DroppedDeliveries uint64 // accepted publishes not delivered by DropDelivery (Stats.Dropped)
	Garbage           uint64 // SendGarbage writes queued
	Stalls            uint64 // Stall calls that stalled a server that was not stalled
	Pauses            uint64 // PauseReading calls that paused a server that was not paused
	LastSequenceSets  uint64 // SetLastSequence calls
}

type faultCounters struct {
	stops, stateResets, kills, closedAfter, droppedClients, droppedAcks, delayedAcks,
	withheldAcks, failedSeqs, notEntitled, garbage, stalls, pauses, lastSeqSets atomic.Uint64
}

func (s *Server) faultStats() Faults {
	f := &s.faults
	return Faults{
		Stops:             f.stops.Load(),
		StateResets:       f.stateResets.Load(),
		Kills:             f.kills.Load(),
		ClosedAfterFrames: f.closedAfter.Load(),
		DroppedClients:    f.droppedClients.Load(),
		DroppedAcks:       f.droppedAcks.Load(),
		DelayedAcks:       f.delayedAcks.Load(),
		WithheldAcks:      f.withheldAcks.Load(),
		FailedSequences:   f.failedSeqs.Load(),
		NotEntitled:       f.notEntitled.Load(),
		DroppedDeliveries: s.dropped.Load(),
		Garbage:           f.garbage.Load(),
		Stalls:            f.stalls.Load(),
		Pauses:            f.pauses.Load(),
		LastSequenceSets:  f.lastSeqSets.Load(),
	}
}

type topicCounters struct {
	publishes, bytes, duplicates, rejected, delivered atomic.Uint64
}

// client is a server's view of one client name, kept across connections for the life of the
// server: its counters and live connection, and (embedded) the name's record in the State.
type client struct {
	*record

	frames, bytes, publishes, duplicates, rejected atomic.Uint64

	// Guarded by Server.mu.
	live   *conn
	user   string
	logons uint64
}

func newClient(r *record) *client { return &client{record: r} }

func nameHashString(name string) string { return strconv.FormatUint(NameHash(name), 10) }

// NameHash returns the stable hash the server puts before the first '|' of every bookmark
// for a client name: FNV-1a 64 of the name.
func NameHash(clientName string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(clientName))
	return h.Sum64()
}

// advance records seq as the client's last sequence if it is above the current one; it
// reports false for a duplicate.
func (r *record) advance(seq uint64) bool {
	for {
		l := r.last.Load()
		if seq <= l {
			return false
		}
		if r.last.CompareAndSwap(l, seq) {
			return true
		}
	}
}

// topic returns the counters of topic t, creating them on first use. Lookups are lock-free
// and allocation-free (copy-on-write map); only a new topic takes the lock and copies.
func (s *Server) topic(t []byte) *topicCounters {
	if tc := (*s.topics.Load())[string(t)]; tc != nil {
		return tc
	}
	s.topicMu.Lock()
	defer s.topicMu.Unlock()
	old := *s.topics.Load()
	if tc := old[string(t)]; tc != nil {
		return tc
	}
	m := make(map[string]*topicCounters, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	tc := new(topicCounters)
	m[string(t)] = tc
	s.topics.Store(&m)
	return tc
}

// Stats returns a snapshot of every counter.
func (s *Server) Stats() Stats {
	st := Stats{
		Frames:           s.frames.Load(),
		Bytes:            s.bytes.Load(),
		Publishes:        s.publishes.Load(),
		Duplicates:       s.duplicates.Load(),
		Rejected:         s.rejected.Load(),
		Delivered:        s.delivered.Load(),
		Dropped:          s.dropped.Load(),
		ConnectionsTotal: s.connsTotal.Load(),
		Faults:           s.faultStats(),
		Closes:           map[CloseReason]uint64{},
		PerTopic:         map[string]TopicStats{},
		PerClient:        map[string]ClientStats{},
	}
	for name, tc := range *s.topics.Load() {
		st.PerTopic[name] = TopicStats{
			Publishes:  tc.publishes.Load(),
			Bytes:      tc.bytes.Load(),
			Duplicates: tc.duplicates.Load(),
			Rejected:   tc.rejected.Load(),
			Delivered:  tc.delivered.Load(),
		}
	}
	s.mu.Lock()
	st.Connections = len(s.conns)
	for r, n := range s.closes {
		st.Closes[r] = n
	}
	for name, cl := range s.clients {
		st.PerClient[name] = ClientStats{
			Frames:       cl.frames.Load(),
			Bytes:        cl.bytes.Load(),
			Publishes:    cl.publishes.Load(),
			Duplicates:   cl.duplicates.Load(),
			Rejected:     cl.rejected.Load(),
			Logons:       cl.logons,
			LastSequence: cl.last.Load(),
			Connected:    cl.live != nil && !cl.live.dead.Load(),
		}
	}
	s.mu.Unlock()
	return st
}
