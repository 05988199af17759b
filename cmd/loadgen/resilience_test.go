package main

import (
	"context"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/loadreport"
)

var faultSeed = flag.Uint64("loadgen.seed", 20260801, "seed of the fault-injecting loadgen tests (KillPublishers)")

// startMember starts one server of a replicated group.
func startMember(t *testing.T, st *ampstest.State) *ampstest.Server {
	t.Helper()
	s, err := ampstest.StartTCP(ampstest.Config{State: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPersistedAck: --ack persisted against the embedded server: a memory
// store, flushes that wait for the persisted ack, every frame's "s" and
// "a" counted in the wire bytes, nothing unpersisted at the end.
func TestPersistedAck(t *testing.T) {
	code, r, stderr := runJSON(t, nil, "--ack", "persisted", "--store-bytes", "1MiB", "--store-messages", "4096",
		"--flush-every", "500", "--count", "20000", "--producers", "2", "--verify", "--quiet")
	if code != exitOK || !r.OK {
		t.Fatalf("exit %d, failures %v\n%s", code, r.Failures, stderr)
	}
	if r.Workload.Ack != "persisted" || r.Workload.StoreBytes != 1<<20 || r.Workload.StoreMessages != 4096 || r.Workload.BufferSize != 1<<20 {
		t.Errorf("workload %+v", r.Workload)
	}
	if r.Server == nil || r.Server.Publishes != 20000 || r.Verify == nil || r.Verify.Received != 20000 || r.Verify.Lost+r.Verify.Duplicated+r.Verify.OutOfOrder != 0 {
		t.Errorf("server %+v verify %+v", r.Server, r.Verify)
	}
	if l := r.Latency.Flush; l == nil || l.Count != 40 || !strings.Contains(l.What, "persisted ack") {
		t.Errorf("flush latency %+v", l)
	}
	rs := r.Resilience
	if rs == nil || rs.Unpersisted != 0 || rs.Disconnects != 0 || rs.FailedWritesTotal() != 0 || len(rs.Events) != 0 {
		t.Errorf("resilience %+v", rs)
	}
	// Every frame carries "a":"persisted" and its "s": the wire bytes
	// loadgen counts are what the writer wrote, less control frames
	// (logon, flushes, the verifier's end markers: well under 100 bytes
	// each).
	if extra := r.Transport.BytesWritten - r.WireBytes; r.Transport.BytesWritten < r.WireBytes || extra > 100*(40+10) {
		t.Errorf("wire bytes %d, written %d", r.WireBytes, r.Transport.BytesWritten)
	}
}

// TestVerifyAcrossFailover is issue 8's loadgen check: --ack persisted,
// two URIs of a replicated group, the verifier on a third member, while
// both members kill publisher connections at random frames (seeded) and
// the test stops the live member once a quarter of the messages is in, so
// that the clients fail over to the other. Every message must arrive
// exactly once, in each producer's order, with reconnects, a failover,
// and no failed write.
//
// "flush every 2000" also flushes while the faults are injected: a flush
// whose ack is lost with a connection, after later publishes were persisted,
// must still return (it hung before fastpub's fix, with -loadgen.seed=2, 3
// and 4 under -race).
func TestVerifyAcrossFailover(t *testing.T) {
	t.Run("final flush", func(t *testing.T) { verifyAcrossFailover(t, nil) })
	t.Run("flush every 2000", func(t *testing.T) { verifyAcrossFailover(t, []string{"--flush-every", "2000"}) })
}

func verifyAcrossFailover(t *testing.T, extra []string) {
	seed := *faultSeed
	t.Logf("seed %d (rerun with -loadgen.seed=%d)", seed, seed)
	const count = 60_000
	st := ampstest.NewState()
	a, b, obs := startMember(t, st), startMember(t, st), startMember(t, st)
	a.KillPublishers(seed, 3000, 9000)
	b.KillPublishers(seed+1, 3000, 9000)
	name := "failover"

	// The injector: once a quarter of the messages is accepted, stop the
	// member that holds connection 0 (the other connection may be on
	// either). Bounded: 2,000 ticks of 5 ms.
	done := make(chan struct{})
	var wg sync.WaitGroup
	var stopped *ampstest.Server
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 2000 && stopped == nil; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if st.LastSequence(name+"-0") == 0 || a.Stats().Publishes+b.Stats().Publishes < count/4 {
				continue
			}
			for _, s := range []*ampstest.Server{a, b} {
				if s.Stats().PerClient[name+"-0"].Connected {
					s.Stop()
					stopped = s
					break
				}
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--uri", a.URI("json"), "--uri", b.URI("json"), "--verify", "--verify-uri", obs.URI("json"),
		"--client-name", name, "--ack", "persisted", "--store-bytes", "16MiB",
		"--connections", "2", "--producers", "2", "--count", "60000", "--rate", "40000", "--quiet"}, extra...)
	code, r, stderr := runJSON(t, ctx, args...)
	close(done)
	wg.Wait()

	var kills uint64
	for i, s := range []*ampstest.Server{a, b} {
		f := s.Stats().Faults
		kills += f.Kills
		t.Logf("member %d: %d connection(s) killed, %d stop(s)", i, f.Kills, f.Stops)
	}
	rs := r.Resilience
	if rs == nil {
		t.Fatalf("no resilience part: exit %d, failures %v\n%s", code, r.Failures, stderr)
	}
	t.Logf("loadgen: %s; %s; %d event(s)", rs.ReconnectText(), rs.FailedLine(), len(rs.Events))
	if code != exitOK || !r.OK {
		for _, e := range rs.Events {
			t.Logf("event %+v", e)
		}
		for i, s := range []*ampstest.Server{a, b} {
			for n, c := range s.Stats().PerClient {
				t.Logf("member %d, client %s: %+v", i, n, c)
			}
		}
		t.Fatalf("exit %d, failures %v\n%s", code, r.Failures, stderr)
	}
	v := r.Verify
	if v == nil || r.Messages != count || v.Expected != count || v.Received != count || v.Lost != 0 || v.Duplicated != 0 || v.OutOfOrder != 0 ||
		!strings.HasPrefix(v.Tail, "complete") {
		t.Errorf("messages %d, verify %+v", r.Messages, v)
	}
	if kills == 0 || stopped == nil {
		t.Errorf("faults not injected: %d kill(s), stopped %v", kills, stopped != nil)
	}
	if rs.Reconnects == 0 || rs.Disconnects < rs.Reconnects || rs.Disconnects < kills || rs.Attempts < rs.Reconnects ||
		rs.Failovers == 0 || rs.FailedWritesTotal() != 0 || rs.GaveUp != 0 || rs.Gaps != 0 || rs.Unpersisted != 0 || r.Errors.Count != 0 {
		t.Errorf("resilience %+v, errors %+v (kills %d)", rs, r.Errors, kills)
	}
	if !r.Workload.Reconnect || len(r.Target.Failover) != 1 || r.Target.Failover[0] != b.URI("json") {
		t.Errorf("workload %+v target %+v", r.Workload, r.Target)
	}
	kinds := map[string]int{}
	for _, e := range rs.Events {
		kinds[e.Kind]++
	}
	if kinds["disconnected"] == 0 || kinds["reconnecting"] == 0 || kinds["reconnected"] == 0 {
		t.Errorf("events by kind %v", kinds)
	}
}

// TestStoreWithoutReconnect: with a store and no reconnect policy a killed
// connection ends the run: exit 1, the disconnect counted, the error kept.
func TestStoreWithoutReconnect(t *testing.T) {
	s := startServer(t)
	s.KillPublishers(*faultSeed, 2000, 2000)
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--ack", "persisted", "--count", "100000", "--quiet")
	if code != exitFailed || r.OK {
		t.Fatalf("exit %d ok %v: a killed connection did not fail the run\n%s", code, r.OK, stderr)
	}
	if rs := r.Resilience; rs == nil || rs.Disconnects != 1 || rs.Reconnects != 0 || r.Errors.Count == 0 || r.Workload.Reconnect {
		t.Errorf("resilience %+v errors %+v", rs, r.Errors)
	}
}

// TestFailedWriteReported: a publish the server refuses in its persisted
// ack is a failed write, by reason, with the message it was, and fails the
// run.
func TestFailedWriteReported(t *testing.T) {
	s := startServer(t)
	s.SetLastSequence("fw-0", 1000) // the client's sequences then start at 1001
	s.FailSequence("fw-0", 1005, "")
	code, r, stderr := runJSON(t, nil, "--uri", s.URI("json"), "--client-name", "fw", "--ack", "persisted", "--count", "100", "--topics", "fwtopic", "--quiet")
	if code != exitFailed || r.OK {
		t.Fatalf("exit %d ok %v\n%s", code, r.OK, stderr)
	}
	rs := r.Resilience
	if rs == nil || rs.FailedWrites[ampstest.DefaultFailReason] != 1 || rs.FailedWritesTotal() != 1 ||
		!strings.Contains(rs.FirstFailedWrite, "topic fwtopic, seq 1005") {
		t.Fatalf("resilience %+v", rs)
	}
	if !strings.Contains(strings.Join(r.Failures, ";"), "1 failed write(s)") {
		t.Errorf("failures %v", r.Failures)
	}
	// The "s" of 4 digits here, not 19: the wire bytes follow the server's
	// last sequence.
	if r.Transport.BytesWritten < r.WireBytes || r.Transport.BytesWritten-r.WireBytes > 300 {
		t.Errorf("wire bytes %d, written %d", r.WireBytes, r.Transport.BytesWritten)
	}
}

// TestReconnectFlag: --reconnect with one URI (the embedded server) turns
// the policy on; a clean run reports no disconnect.
func TestReconnectFlag(t *testing.T) {
	code, r, stderr := runJSON(t, nil, "--reconnect", "--count", "2000", "--quiet")
	if code != exitOK || !r.OK {
		t.Fatalf("exit %d failures %v\n%s", code, r.Failures, stderr)
	}
	if !r.Workload.Reconnect || r.Resilience == nil || r.Resilience.Disconnects != 0 || r.Workload.StoreBytes != 0 {
		t.Errorf("workload %+v resilience %+v", r.Workload, r.Resilience)
	}
	var text syncBuffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "reconnect on") || !strings.Contains(text.String(), "0 disconnect(s)") {
		t.Errorf("text:\n%s", text.String())
	}
	_ = loadreport.MaxEvents
}
