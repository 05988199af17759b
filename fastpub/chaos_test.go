package fastpub_test

import (
	"context"
	"flag"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

var chaosSeed = flag.Uint64("chaos.seed", 20261202, "seed of TestChaos's fault injection")

// chaosScale is the size of TestChaos: the full run in the normal suite, a
// smaller one under the race detector (race_test.go / norace_test.go).
type chaosScale struct {
	producers, perProducer int
	killMin, killMax       int // frames between connection kills
	minFaults              int
	stalls                 int
}

// TestChaos publishes from 8 producers through one client with a memory
// store and a reconnect policy, into a replicated pair of servers, while
// faults are injected: connections killed at random frames, persisted acks
// dropped, garbage frames from the server, restarts with state kept,
// failovers to the other server, a stall past the heartbeat timeout. A
// subscriber on a third member of the group must see every message exactly
// once and in each producer's order, and the client must report no failed
// write. The seed is fixed (-chaos.seed) and printed, with what was injected.
func TestChaos(t *testing.T) {
	sc := chaosFull
	if testing.Short() {
		sc = chaosSmall
	}
	seed := *chaosSeed
	t.Logf("seed %d (rerun with -chaos.seed=%d); %d producers × %d messages", seed, seed, sc.producers, sc.perProducer)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Now()

	state := ampstest.NewState()
	servers := []*ampstest.Server{
		startServer(t, ampstest.Config{State: state}),
		startServer(t, ampstest.Config{State: state}),
	}
	obs := startServer(t, ampstest.Config{State: state})
	ta := newTally(sc.producers)
	subscribe(t, obs.URI("json"), "chaos", ta)
	for i, s := range servers {
		s.KillPublishers(seed+uint64(i), sc.killMin, sc.killMax)
		s.DropPersistedAcksRandomly(seed+10+uint64(i), 0.01)
	}

	var evMu sync.Mutex
	reconnected := make(chan struct{}, 1)
	failed := map[string]int{}
	c := connect(t, servers[0].URI("json"), "chaos",
		fastpub.WithStore(memStore(t, 16<<20, 1<<18)),
		fastpub.WithHeartbeat(time.Second),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{
			Servers:      []string{servers[1].URI("json")},
			Delay:        fastpub.ExponentialDelay{Initial: 2 * time.Millisecond, Max: 20 * time.Millisecond},
			LogonTimeout: 500 * time.Millisecond,
		}),
		fastpub.WithFailedWriteHandler(func(f fastpub.FailedWrite) { evMu.Lock(); failed[f.Reason]++; evMu.Unlock() }),
		fastpub.WithEventHandler(func(e fastpub.Event) {
			if e.Kind == fastpub.EventReconnected {
				select {
				case reconnected <- struct{}{}:
				default:
				}
			}
		}))

	// Producers.
	var wg sync.WaitGroup
	errs := make(chan error, sc.producers)
	for p := 0; p < sc.producers; p++ {
		wg.Add(1)
		go func(p uint32) {
			defer wg.Done()
			var buf [8]byte
			for n := 0; n < sc.perProducer; n++ {
				if err := c.Publish("chaos", payload(&buf, p, uint32(n))); err != nil {
					errs <- err
					return
				}
			}
		}(uint32(p))
	}
	producersDone := make(chan struct{})
	go func() { wg.Wait(); close(producersDone) }()

	// The injector: faults beside the random kills, until the producers are
	// done (bounded in count and time).
	injected := map[string]int{}
	live := func() *ampstest.Server {
		for _, s := range servers {
			if st := s.Stats(); st.PerClient["chaos"].Connected {
				return s
			}
		}
		return nil
	}
	stalls := 0
	count := func() int { // faults so far, kills included
		n := 0
		for _, k := range injected {
			n += k
		}
		for _, s := range servers {
			n += int(s.Stats().Faults.Kills)
		}
		return n
	}
	watchdog := time.After(50 * time.Second)
	done := false
	// Until the producers are done and enough faults were injected.
	for i := 0; i < 10000 && !(done && count() >= sc.minFaults); i++ {
		select {
		case <-producersDone:
			done, producersDone = true, nil
		case <-watchdog:
			t.Fatalf("producers not done after 50 s: %v", ta)
		case <-time.After(time.Duration(5+rng.IntN(20)) * time.Millisecond):
		}
		s := live()
		if s == nil {
			continue // between connections
		}
		switch k := rng.IntN(100); {
		case k < 40:
			if s.SendGarbage("chaos") {
				injected["garbage frame"]++
			}
		case k < 65:
			if err := s.Restart(true); err != nil {
				t.Fatalf("restart: %v", err)
			}
			injected["restart, state kept"]++
		case k < 90:
			s.Stop()
			injected["failover (server stopped)"]++
			select {
			case <-reconnected:
			case <-time.After(10 * time.Second):
				t.Fatal("no failover within 10 s")
			}
			if err := s.Start(); err != nil {
				t.Fatalf("start: %v", err)
			}
		default:
			if stalls >= sc.stalls {
				continue
			}
			stalls++
			// Drain a stale token, stall, wait for the failover, unstall.
			select {
			case <-reconnected:
			default:
			}
			s.Stall()
			injected["stall past the heartbeat timeout"]++
			select {
			case <-reconnected:
			case <-time.After(15 * time.Second):
				t.Fatal("a stalled server was not left within 15 s")
			}
			s.Unstall()
		}
	}
	close(errs)
	for err := range errs {
		t.Fatalf("a producer's publish failed: %v", err)
	}
	for _, s := range servers {
		s.KillPublishers(0, 0, 0)
		s.DropPersistedAcksRandomly(0, 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.PublishFlush(ctx); err != nil {
		t.Fatalf("final PublishFlush: %v", err)
	}
	total := sc.producers * sc.perProducer
	ta.waitTotal(t, total, 30*time.Second)

	for i, s := range servers {
		f := s.Stats().Faults
		injected["connection killed at a random frame"] += int(f.Kills)
		injected["persisted ack dropped"] += int(f.DroppedAcks)
		t.Logf("server %d faults: %+v", i, f)
	}
	faults := 0
	for kind, n := range injected {
		t.Logf("injected %-40s %d", kind, n)
		if kind != "persisted ack dropped" {
			faults += n
		}
	}
	st := c.Stats()
	evMu.Lock()
	dups := failed["duplicate"]
	delete(failed, "duplicate")
	others := len(failed)
	evMu.Unlock()
	// A replayed frame can reach the server after an old connection of
	// this name, still draining its socket, delivered it: the server drops
	// it and says "duplicate" in its persisted ack, which the client
	// reports as a failed write (as the official clients do). That is not
	// a loss; any other failed write is.
	t.Logf("%d messages, %d faults (persisted-ack drops not counted), %d disconnects, %d reconnects, %d frames replayed, %d duplicate notices; subscriber: %v; %.1f s",
		total, faults, st.Disconnects, st.Reconnects, st.Replayed, dups, ta, time.Since(start).Seconds())
	if faults < sc.minFaults {
		t.Fatalf("only %d faults injected, want at least %d", faults, sc.minFaults)
	}
	if others != 0 || uint64(dups) != st.FailedWrites["duplicate"] || len(st.FailedWrites) > 1 {
		t.Fatalf("failed writes: handler %v (and %d duplicates), Stats %v", failed, dups, st.FailedWrites)
	}
}
