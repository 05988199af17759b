package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/store"
)

// The publish store's benchmarks: store on against store off (interleaved
// rounds over two long-lived clients), and the replay of a full store after
// an outage against the ceiling for the same bytes.

// roundTimeout bounds every round of these harnesses.
const roundTimeout = 5 * time.Minute

// Publisher is one client logged on to a test server of its own, kept
// across rounds, with or without a memory store.
type Publisher struct {
	Server *ampstest.Server
	Client *fastpub.Client
	store  store.Store
}

// NewPublisher starts a test server configured by cfg and a client named
// name logged on to it: with a memory store bounded by *limits, or without a
// store (the send buffer is then bufSize, as in Publish) when limits is nil.
func NewPublisher(name string, cfg ampstest.Config, limits *store.Limits) (*Publisher, error) {
	if limits == nil {
		return NewStorePublisher(name, cfg, nil)
	}
	m, err := store.NewMemory(*limits)
	if err != nil {
		return nil, err
	}
	return NewStorePublisher(name, cfg, m)
}

// NewStorePublisher is NewPublisher with the store st (nil: none); the
// client closes it.
func NewStorePublisher(name string, cfg ampstest.Config, st store.Store) (*Publisher, error) {
	srv, err := ampstest.StartTCP(cfg)
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	p := &Publisher{Server: srv, store: st}
	opts := []fastpub.Option{fastpub.WithBufferSize(bufSize)}
	if st != nil {
		opts = append(opts, fastpub.WithStore(st))
	}
	if p.Client, err = fastpub.NewClient(name, opts...); err != nil {
		srv.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	if err := p.Client.Connect(ctx, srv.URI("json")); err != nil {
		p.Close()
		return nil, err
	}
	if err := p.Client.Logon(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Close closes the client, then the server.
func (p *Publisher) Close() {
	p.Client.Close()
	p.Server.Close()
}

// Round publishes n messages of payload to topic from one goroutine, then
// PublishFlush (with a store: until everything is persisted). The time runs
// from the first publish to the flush's return. It checks that the server
// accepted exactly n publishes and, with a store, that the client saw
// persisted acks for at least n more sequence numbers.
func (p *Publisher) Round(topic string, payload []byte, n int) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	c := p.Client
	pubs0 := p.Server.Stats().Publishes
	st0 := c.Stats()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := processCPU()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := c.Publish(topic, payload); err != nil {
			return Result{}, err
		}
	}
	if err := c.PublishFlush(ctx); err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	runtime.ReadMemStats(&after)
	st := c.Stats()
	if got := p.Server.Stats().Publishes - pubs0; got != uint64(n) {
		return Result{}, fmt.Errorf("bench: server accepted %d publishes, want %d", got, n)
	}
	if p.store != nil {
		// Every publish and the flush take a sequence number; persisted
		// acks must have covered all n publishes.
		if got := st.PersistedSeq - st0.PersistedSeq; got < uint64(n) {
			return Result{}, fmt.Errorf("bench: persisted acks advanced %d sequences, want at least %d", got, n)
		}
	}
	return Result{Frames: n, Elapsed: elapsed, Allocs: after.Mallocs - before.Mallocs, GCs: after.NumGC - before.NumGC, Writes: st.Writes - st0.Writes, CPU: cpu}, nil
}

// StorePair is one interleaved pair of rounds: store off and store on.
type StorePair struct {
	Off, On Result
}

// Ratio is the store-on rate over the store-off rate.
func (p StorePair) Ratio() float64 { return p.On.Rate() / p.Off.Rate() }

// StoreSideBySide publishes frames messages of payloadSize bytes with store
// on (a memory store bounded by limits) and, as many, with store off, in
// rounds interleaved pairs (the frames split evenly between the rounds;
// even pairs run off first, odd ones on first, so that drift favours
// neither). Each side is one client on a test server of its own (both
// configured by cfg, which says how persisted acks are sent), set up once.
// timing, if not nil, is called with true just before each store-on
// round and with false just after it (a benchmark's StartTimer and
// StopTimer).
func StoreSideBySide(topic string, payloadSize, frames, rounds int, cfg ampstest.Config, limits store.Limits, timing func(on bool)) ([]StorePair, error) {
	return PairSideBySide(topic, payloadSize, frames, rounds, cfg,
		func() (store.Store, error) { return nil, nil },
		func() (store.Store, error) { return store.NewMemory(limits) }, timing)
}

// PairSideBySide is StoreSideBySide for any two stores: "off" gets the
// store offStore makes, "on" the one onStore makes (either may make nil:
// no store). Each side is one client on a test server of its own.
func PairSideBySide(topic string, payloadSize, frames, rounds int, cfg ampstest.Config, offStore, onStore func() (store.Store, error), timing func(on bool)) ([]StorePair, error) {
	rounds = max(min(rounds, frames), 1)
	mk := func(name string, f func() (store.Store, error)) (*Publisher, error) {
		st, err := f()
		if err != nil {
			return nil, err
		}
		var p *Publisher
		onSide(name, func() { p, err = NewStorePublisher(name, cfg, st) })
		return p, err
	}
	off, err := mk("off", offStore)
	if err != nil {
		return nil, err
	}
	defer off.Close()
	on, err := mk("on", onStore)
	if err != nil {
		return nil, err
	}
	defer on.Close()
	payload := Payload(payloadSize)
	pairs := make([]StorePair, 0, rounds)
	for r := 0; r < rounds; r++ {
		n := frames / rounds
		if r < frames%rounds {
			n++
		}
		var pair StorePair
		for k := 0; k < 2; k++ {
			if (k == 0) == (r%2 == 0) {
				onSide("off", func() { pair.Off, err = off.Round(topic, payload, n) })
				if err != nil {
					return nil, fmt.Errorf("off: %w", err)
				}
				continue
			}
			if timing != nil {
				timing(true)
			}
			onSide("on", func() { pair.On, err = on.Round(topic, payload, n) })
			if timing != nil {
				timing(false)
			}
			if err != nil {
				return nil, fmt.Errorf("on: %w", err)
			}
		}
		pairs = append(pairs, pair)
	}
	return pairs, nil
}

// onSide runs f with the profiler label side=off or side=on, which every
// goroutine f starts inherits (the client's writer and reader, the test
// server's connections): a CPU profile of BenchmarkStoreSideBySide
// (-cpuprofile) splits by side with go tool pprof -tagfocus side=on.
func onSide(side string, f func()) {
	pprof.Do(context.Background(), pprof.Labels("side", side), func(context.Context) { f() })
}

// StoredFrames returns count pre-encoded publish frames of the given
// payload size for topic, back to back in one buffer, exactly as fastpub
// stores and replays them: {"c":"p","t":"<topic>","a":"persisted","s":N}
// and the payload, with N from firstSeq up by one.
func StoredFrames(topic string, payloadSize, count int, firstSeq uint64) ([]byte, error) {
	payload := Payload(payloadSize)
	h := frame.Publish{Command: frame.CmdPublish, Topic: topic, Ack: frame.AckPersisted, Seq: firstSeq}
	n, err := frame.PublishLen(&h, payloadSize)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, count*(n+1))
	for i := 0; i < count; i++ {
		h.Seq = firstSeq + uint64(i)
		if buf, err = frame.AppendPublish(buf, &h, payload); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// ceilingChunk is the size of the ceiling's writes: the pre-encoded
// ceiling's 4096 frames of 1 KiB.
const ceilingChunk = 4 << 20

// CeilingBytes writes total bytes of frames (cycled if shorter) over
// loopback TCP in contiguous writes of 4 MiB to a reader that discards
// them, and returns how long that took from the first write until the
// reader had read the last byte: the ceiling of Ceiling, for a given number
// of bytes.
func CeilingBytes(frames []byte, total int64) (time.Duration, error) {
	srv, err := NewDiscardServer()
	if err != nil {
		return 0, err
	}
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		srv.Close()
		return 0, err
	}
	start := time.Now()
	off := 0
	for left := total; left > 0; {
		if off == len(frames) {
			off = 0
		}
		n := int(min(int64(ceilingChunk), left, int64(len(frames)-off)))
		if _, err := conn.Write(frames[off : off+n]); err != nil {
			conn.Close()
			srv.Wait()
			return 0, err
		}
		off += n
		left -= int64(n)
	}
	conn.Close()
	got := srv.Wait()
	elapsed := time.Since(start)
	if got != total {
		return 0, fmt.Errorf("bench: discard server read %d bytes, want %d: %w", got, total, io.ErrUnexpectedEOF)
	}
	return elapsed, nil
}

// RawToServer is the ceiling against the test server itself: a bare
// connection logs on as name, then writes frames (stored publish frames
// whose sequence numbers are above any the server has for name) in
// contiguous writes of 4 MiB followed by a flush asking for a persisted
// ack, while a reader goroutine reads and parses the server's persisted
// acks; the time runs from the first write to the flush's ack. It checks
// that the server accepted count publishes and that the acks covered the
// last sequence.
func RawToServer(srv *ampstest.Server, name string, frames []byte, count int, lastSeq uint64) (time.Duration, error) {
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	logon, err := frame.AppendLogon(nil, &frame.Logon{CommandID: "l", ClientName: name, MessageType: "json", Ack: frame.AckProcessed, Version: "bench"})
	if err != nil {
		return 0, err
	}
	if _, err := conn.Write(logon); err != nil {
		return 0, err
	}
	rd := frame.NewReader(conn, 64<<10, 1<<20)
	var h frame.Header
	for {
		body, err := rd.Next()
		if err != nil {
			return 0, fmt.Errorf("bench: raw logon: %w", err)
		}
		h.Reset()
		if _, err := h.Parse(body); err != nil {
			return 0, err
		}
		if h.Command == frame.CmdAck && string(h.CommandID) == "l" {
			if string(h.Status) != "success" {
				return 0, fmt.Errorf("bench: raw logon: status %q reason %q", h.Status, h.Reason)
			}
			break
		}
	}
	pubs0 := srv.Stats().Publishes
	type verdict struct {
		persisted uint64
		err       error
	}
	done := make(chan verdict, 1)
	go func() {
		var h frame.Header
		var top uint64
		for {
			body, err := rd.Next()
			if err != nil {
				done <- verdict{top, err}
				return
			}
			h.Reset()
			if _, err := h.Parse(body); err != nil {
				done <- verdict{top, err}
				return
			}
			if h.Command != frame.CmdAck || !h.Ack.Has(frame.AckPersisted) {
				continue
			}
			if string(h.CommandID) == "f" {
				done <- verdict{top, nil}
				return
			}
			if string(h.Status) != "success" || len(h.Reason) != 0 {
				done <- verdict{top, fmt.Errorf("bench: raw: persisted ack s=%d status %q reason %q", h.Seq, h.Status, h.Reason)}
				return
			}
			top = max(top, h.Seq)
		}
	}()
	flush, err := frame.AppendFlush(nil, &frame.Flush{CommandID: "f", Ack: frame.AckPersisted})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for off := 0; off < len(frames); {
		n := min(ceilingChunk, len(frames)-off)
		if _, err := conn.Write(frames[off : off+n]); err != nil {
			return 0, err
		}
		off += n
	}
	if _, err := conn.Write(flush); err != nil {
		return 0, err
	}
	v := <-done
	elapsed := time.Since(start)
	if v.err != nil {
		return 0, v.err
	}
	if v.persisted != lastSeq {
		return 0, fmt.Errorf("bench: raw: persisted acks reached s=%d, want %d", v.persisted, lastSeq)
	}
	if got := srv.Stats().Publishes - pubs0; got != uint64(count) {
		return 0, fmt.Errorf("bench: raw: server accepted %d publishes, want %d", got, count)
	}
	return elapsed, nil
}

// ReplayRound is one round of StoreReplay.
type ReplayRound struct {
	Frames  int           // publishes stored during the outage and replayed
	Bytes   uint64        // the store's fill when the server came back: the bytes replayed
	Replay  time.Duration // from the server's Start until PublishFlush returned
	Ceiling time.Duration // CeilingBytes for the same bytes
	Raw     time.Duration // RawToServer for the same frames
	Writes  uint64        // the client's write calls during the replay
	Allocs  uint64        // heap allocations during the replay, whole process
	GCs     uint32        // GC cycles during the replay
}

// Rate returns bytes per second for an elapsed time of this round's bytes.
func (r ReplayRound) Rate(d time.Duration) float64 { return float64(r.Bytes) / d.Seconds() }

// StoreReplay measures the replay of a full store. One client with a
// memory store bounded by limits and a reconnect policy (1 ms between
// attempts) publishes to a test server. Each round stops the server, waits
// for the client to see the disconnect, publishes enough payloadSize-byte
// messages to fill about storedBytes of the store while the server is
// away, then starts the server and calls PublishFlush: the time runs from
// Start until the flush returns, that is until the reconnect has logged on,
// replayed every stored frame as writev batches of the stored bytes, and
// the server has persisted them all (it checks that the server accepted
// exactly the stored messages and no duplicate). In the same round,
// CeilingBytes writes the same number of bytes to a discarding reader and
// RawToServer writes frames of the same shape and count to a second test
// server (both servers configured by cfg); even rounds measure those before
// the replay, odd ones after.
// timing, if not nil, is called with true just before each replay and with
// false just after it.
func StoreReplay(topic string, payloadSize, storedBytes, rounds int, cfg ampstest.Config, limits store.Limits, timing func(on bool)) ([]ReplayRound, error) {
	payload := Payload(payloadSize)
	// The stored frames' size: a sequence number of 19 digits, as the
	// client's epoch-based ones.
	frameLen, err := frame.PublishLen(&frame.Publish{Topic: topic, Ack: frame.AckPersisted, Seq: 1e18}, payloadSize)
	if err != nil {
		return nil, err
	}
	count := max(storedBytes/frameLen, 1)

	srv, err := ampstest.StartTCP(cfg)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	raw, err := ampstest.StartTCP(cfg)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	rawFrames, err := StoredFrames(topic, payloadSize, count, 1e18)
	if err != nil {
		return nil, err
	}

	mem, err := store.NewMemory(limits)
	if err != nil {
		return nil, err
	}
	events := make(chan fastpub.EventKind, 64)
	c, err := fastpub.NewClient("bench-replay",
		fastpub.WithStore(mem),
		fastpub.WithReconnect(fastpub.ReconnectPolicy{Delay: fastpub.FixedDelay{D: time.Millisecond}}),
		fastpub.WithEventHandler(func(ev fastpub.Event) {
			if ev.Kind == fastpub.EventDisconnected || ev.Kind == fastpub.EventReconnected || ev.Kind == fastpub.EventGaveUp {
				select {
				case events <- ev.Kind:
				default:
				}
			}
		}))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
	defer cancel()
	if err := c.Connect(ctx, srv.URI("json")); err != nil {
		return nil, err
	}
	if err := c.Logon(ctx); err != nil {
		return nil, err
	}

	waitEvent := func(want fastpub.EventKind) error {
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case k := <-events:
				if k == want {
					return nil
				}
				if k == fastpub.EventGaveUp {
					return errors.New("bench: the client gave up reconnecting")
				}
			case <-t.C:
				return fmt.Errorf("bench: no %v event within 30 s", want)
			}
		}
	}
	out := make([]ReplayRound, 0, rounds)
	for r := 0; r < rounds; r++ {
		rr := ReplayRound{Frames: count}
		ceilings := func() error {
			var err error
			if rr.Ceiling, err = CeilingBytes(rawFrames, int64(rr.Bytes)); err != nil {
				return err
			}
			rr.Raw, err = RawToServer(raw, fmt.Sprintf("bench-raw-%d", r), rawFrames, count, 1e18+uint64(count)-1)
			return err
		}
		// The outage: the client queues into its store.
		if err := srv.Stop(); err != nil {
			return nil, err
		}
		if err := waitEvent(fastpub.EventDisconnected); err != nil {
			return nil, err
		}
		for i := 0; i < count; i++ {
			if err := c.Publish(topic, payload); err != nil {
				return nil, fmt.Errorf("bench: publish during the outage: %w", err)
			}
		}
		st := c.Stats()
		rr.Bytes = st.UnpersistedBytes
		if want := uint64(count) * uint64(frameLen); rr.Bytes < want {
			return nil, fmt.Errorf("bench: the store holds %d bytes, want at least %d", rr.Bytes, want)
		}
		if r%2 == 0 {
			if err := ceilings(); err != nil {
				return nil, err
			}
		}
		before := srv.Stats()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		if timing != nil {
			timing(true)
		}
		start := time.Now()
		err := srv.Start()
		if err == nil {
			err = c.PublishFlush(ctx)
		}
		rr.Replay = time.Since(start)
		if timing != nil {
			timing(false)
		}
		runtime.ReadMemStats(&m1)
		if err != nil {
			return nil, fmt.Errorf("bench: replay: %w", err)
		}
		rr.Writes = c.Stats().Writes - st.Writes
		rr.Allocs, rr.GCs = m1.Mallocs-m0.Mallocs, m1.NumGC-m0.NumGC
		if err := waitEvent(fastpub.EventReconnected); err != nil {
			return nil, err
		}
		after := srv.Stats()
		if got := after.Publishes - before.Publishes; got != uint64(count) {
			return nil, fmt.Errorf("bench: the server accepted %d replayed publishes, want %d", got, count)
		}
		if got := after.Duplicates - before.Duplicates; got != 0 {
			return nil, fmt.Errorf("bench: the server dropped %d replayed publishes as duplicates", got)
		}
		if got := after.Bytes - before.Bytes; got < rr.Bytes {
			return nil, fmt.Errorf("bench: the server read %d bytes, want at least the %d stored", got, rr.Bytes)
		}
		if r%2 == 1 {
			if err := ceilings(); err != nil {
				return nil, err
			}
		}
		out = append(out, rr)
	}
	return out, nil
}
