package ampstest

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// State is what a group of Servers shares, as the instances of a replicated AMPS pair share
// their transaction log: the per-client-name records (the last accepted sequence, hence
// duplicate elimination by client name and sequence across the whole group, and the "s" and
// "bm" of every logon ack) and the subscriptions (topic fan-out). A publish accepted by any
// member is delivered exactly once to every matching subscription on every member; a publish
// whose "s" is not above the name's last sequence is a duplicate on every member, whichever
// member accepted the original.
//
// Create one with NewState and pass it in Config.State to each member. A Server created
// without one gets a State of its own, so a single server behaves as it always has.
//
// What stays per Server: listeners and connections (Stop, Start, Restart, Close and Stall of
// one member never touch connections to another), the binding of a client name to a live
// connection (one per name per server: a client that fails over to another member does not
// close its connection to the first), fault hooks, and every counter in Stats (what that
// server handled). A State is safe for concurrent use.
type State struct {
	mu      sync.Mutex
	records map[string]*record // client name → record (guarded by mu)
	members []*Server          // servers using this state, open or stopped (guarded by mu)
	joins   int                // servers that have ever joined (guarded by mu)
	// shared is set once a second server joins: from then on no
	// connection holds a client name for a batch (conn.holdName), since a
	// member with immediate acks advances the records with a CAS. batchMu
	// is read-locked by every batch that holds a name; join sets shared
	// under its write lock, once the batches in flight have ended.
	shared  atomic.Bool
	batchMu sync.RWMutex

	subMu  sync.Mutex
	subs   map[*conn]map[string]string // master list: conn → sub_id → topic (guarded by subMu)
	subTab atomic.Pointer[map[string][]subTarget]
}

// record is the per-client-name state kept in a State: what a transaction log remembers.
type record struct {
	name    string
	hashStr string // decimal FNV-1a 64 of name: the first field of every bookmark
	// order is the name's lock. The discard path holds it for a batch of
	// stored publishes (conn.holdName), which only happens while the State
	// is unshared; a strict publish with a sequence holds it for its
	// decision then, and with subscribers also (shared or not) until its
	// deliveries are queued, so that they go out in sequence order. While
	// the State is unshared, whoever reads or sets last for a logon ack, a
	// test's SetLastSequence or Forget takes it too (lockSettled), so that
	// they see a batch whole.
	order sync.Mutex
	// last is the name's last accepted sequence: moved by a CAS
	// (record.advance) outside a batch, and by a batch only when it ends
	// (conn.releaseName). On a cache line of its own, so that nothing
	// allocated next to the record shares it.
	_    cpu.CacheLinePad
	last atomic.Uint64
	_    cpu.CacheLinePad
}

// settledLast returns the name's last accepted sequence once no batch of
// the discard path is holding it back (lockSettled).
func (r *record) settledLast(st *State) uint64 {
	shared := r.lockSettled(st)
	defer r.unlockSettled(st, shared)
	return r.last.Load()
}

// setLast sets the name's last accepted sequence, after any batch in
// flight (lockSettled).
func (r *record) setLast(st *State, seq uint64) {
	shared := r.lockSettled(st)
	defer r.unlockSettled(st, shared)
	r.last.Store(seq)
}

// lockSettled waits until no batch holds the name, and keeps it so until
// unlockSettled (given lockSettled's result): while the State is unshared
// it takes the name's lock; in a shared State no batch begins (State.join),
// so it only takes batchMu for reading, which waits for the batches begun
// before the State became shared, and not for a strict publish holding the
// name's lock to queue its deliveries.
func (r *record) lockSettled(st *State) (shared bool) {
	if st.shared.Load() {
		st.batchMu.RLock()
		return true
	}
	r.order.Lock()
	return false
}

func (r *record) unlockSettled(st *State, shared bool) {
	if shared {
		st.batchMu.RUnlock()
		return
	}
	r.order.Unlock()
}

// subTarget is one connection's subscriptions to one topic.
type subTarget struct {
	c      *conn
	topic  string
	subID  string // set when the connection has exactly one subscription on the topic
	subIDs string // "a,b" when it has several (sent as "sids")
}

// NewState returns an empty State: no client name has history, nothing is subscribed.
func NewState() *State {
	st := &State{
		records: map[string]*record{},
		subs:    map[*conn]map[string]string{},
	}
	empty := map[string][]subTarget{}
	st.subTab.Store(&empty)
	return st
}

// LastSequence returns the last accepted sequence of a client name in this state (0 if
// none): what a logon ack from any member reports.
func (st *State) LastSequence(clientName string) uint64 {
	st.mu.Lock()
	r := st.records[clientName]
	st.mu.Unlock()
	if r == nil {
		return 0
	}
	return r.settledLast(st) // outside st.mu: it may wait for a batch, and bind needs st.mu
}

// SetLastSequence sets the last sequence of a client name for every member, as
// Server.SetLastSequence does.
func (st *State) SetLastSequence(clientName string, seq uint64) {
	st.record(clientName).setLast(st, seq)
}

// Forget makes every client name's last sequence 0, as a group that lost its transaction log:
// every later logon ack reports s=0 and no sequence is a duplicate any more. Subscriptions are
// not affected.
func (st *State) Forget() {
	st.mu.Lock()
	recs := make([]*record, 0, len(st.records))
	for _, r := range st.records {
		recs = append(recs, r)
	}
	st.mu.Unlock()
	for _, r := range recs { // outside st.mu, as LastSequence
		r.setLast(st, 0)
	}
}

// record returns the record of name, creating it on first use.
func (st *State) record(name string) *record {
	st.mu.Lock()
	defer st.mu.Unlock()
	r := st.records[name]
	if r == nil {
		r = &record{name: name, hashStr: nameHashString(name)}
		st.records[name] = r
	}
	return r
}

// join makes s a member: it gets the subscription flag from now on.
//
// The second server to join makes the State shared once every batch that
// holds a client name has ended: a batch that begins after that sees
// shared and holds nothing (conn.holdName), so once join returns, the new
// member's CAS on a record never races a batch.
func (st *State) join(s *Server) {
	st.mu.Lock()
	st.members = append(st.members, s)
	if len(*st.subTab.Load()) > 0 {
		s.flags.Or(flagSubs)
	}
	st.joins++
	more := st.joins >= 2
	st.mu.Unlock()
	if more && !st.shared.Load() {
		// Flip shared under the write lock: it waits for the batches in
		// flight, and no batch can begin or continue while shared changes.
		// A strict publish holding a name's lock is not waited for: it
		// uses the CAS, as the new member does. Every join past the first
		// comes here until shared is set, so a third one waits as well.
		st.batchMu.Lock()
		st.shared.Store(true)
		st.batchMu.Unlock()
	}
}

// leave removes a closed server from the members.
func (st *State) leave(s *Server) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i := slices.Index(st.members, s); i >= 0 {
		st.members = slices.Delete(st.members, i, i+1)
	}
}

// addSub registers a subscription; it reports false if subID is already used on c.
func (st *State) addSub(c *conn, subID, topic string) bool {
	st.subMu.Lock()
	defer st.subMu.Unlock()
	m := st.subs[c]
	if m == nil {
		m = map[string]string{}
		st.subs[c] = m
	}
	if _, dup := m[subID]; dup {
		return false
	}
	m[subID] = topic
	st.rebuildSubsLocked()
	return true
}

// removeSub removes one subscription of c, or all of them when subID is "all" or "";
// it returns how many it removed.
func (st *State) removeSub(c *conn, subID string) int {
	st.subMu.Lock()
	defer st.subMu.Unlock()
	m := st.subs[c]
	if m == nil {
		return 0
	}
	n := 0
	if subID == "" || subID == "all" {
		n = len(m)
		delete(st.subs, c)
	} else {
		if _, ok := m[subID]; ok {
			n = 1
		}
		delete(m, subID)
		if len(m) == 0 {
			delete(st.subs, c)
		}
	}
	if n > 0 {
		st.rebuildSubsLocked()
	}
	return n
}

// rebuildSubsLocked publishes a new topic → targets table built from the master list, then
// sets or clears the subscription flag of every member (after the table, so that a member
// joining concurrently sees one or the other).
func (st *State) rebuildSubsLocked() {
	tab := map[string][]subTarget{}
	for c, m := range st.subs {
		byTopic := map[string][]string{}
		for id, t := range m {
			byTopic[t] = append(byTopic[t], id)
		}
		for t, ids := range byTopic {
			tg := subTarget{c: c, topic: t}
			if len(ids) == 1 {
				tg.subID = ids[0]
			} else {
				slices.Sort(ids)
				tg.subIDs = strings.Join(ids, ",")
			}
			tab[t] = append(tab[t], tg)
		}
	}
	st.subTab.Store(&tab)
	st.mu.Lock()
	for _, s := range st.members {
		if len(tab) > 0 {
			s.flags.Or(flagSubs)
		} else {
			s.flags.And(^flagSubs)
		}
	}
	st.mu.Unlock()
}
