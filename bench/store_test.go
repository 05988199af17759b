package bench

import (
	"bytes"
	"flag"
	"fmt"
	"slices"
	"testing"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/store"
)

var (
	storeRounds  = flag.Int("store.rounds", 5, "BenchmarkStoreSideBySide: interleaved store-off/store-on rounds per run (b.N messages split between them)")
	replayBytes  = flag.Int("replay.bytes", 256<<20, "BenchmarkStoreReplay: bytes of frames stored during each outage and replayed")
	conflate     = flag.Duration("store.conflate", 0, "BenchmarkStoreSideBySide and BenchmarkStoreReplay: the test servers conflate persisted acks over this interval (0: one immediate ack per publish)")
	replayLimits = store.Limits{Bytes: 512 << 20, Messages: 1 << 19}
	sideBytes    = flag.Int("store.bytes", store.DefaultBytes, "BenchmarkStoreSideBySide: the memory store's Limits.Bytes (default: store.DefaultBytes, 64 MiB)")
	sideMessages = flag.Int("store.messages", store.DefaultMessages, "BenchmarkStoreSideBySide: the memory store's Limits.Messages (default: store.DefaultMessages, 1 Mi)")
)

// sideLimits is the memory store of BenchmarkStoreSideBySide: by default
// the limits a store made with store.Limits{} has, which every round of
// 800,000 or more messages still turns over (store-turns/round); -store.bytes
// 8388608 -store.messages 131072 makes it small enough that the publisher
// keeps waiting for persisted acks to free room.
func sideLimits() store.Limits {
	return store.Limits{Bytes: *sideBytes, Messages: *sideMessages}
}

// BenchmarkStoreSideBySide is the publish store's cost: for each payload
// size, one producer publishes b.N messages with a memory store (sideLimits:
// the default limits, 64 MiB and 1 Mi messages; each round ends with
// PublishFlush, which with a store waits until everything is persisted) and b.N without one (ending with PublishFlush's processed
// ack), in interleaved rounds (-store.rounds, default 5) over two clients,
// each with a test server of its own sending immediate persisted acks. It
// reports the medians over the rounds of each rate and of the per-round
// ratio on/off, with that ratio's range, and each side's allocations per
// message (whole process, server included), and each side's frames per
// writev (a writer that keeps up writes small batches and pays more system
// calls per message; store off swings between about 50 and 250 at 128 B on
// the 2-core VM, store on, whose writer lags, writes hundreds to thousands).
// A CPU profile (-cpuprofile) splits by side: -tagfocus side=on or side=off
// (onSide). ns/op and allocs/op are the
// store-on rounds' (the store-off rounds run with the timer stopped).
// -store.conflate 1ms makes the servers conflate persisted acks, as a
// transaction log does, instead of one ack per publish.
//
//	go test -run '^$' -bench '^BenchmarkStoreSideBySide$' -benchtime 4000000x -count 3 ./bench/
func BenchmarkStoreSideBySide(b *testing.B) {
	for _, size := range sizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			b.StopTimer()
			pairs, err := StoreSideBySide("orders", size, b.N, *storeRounds, ampstest.Config{Persisted: persistMode()}, sideLimits(), benchTiming(b))
			if err != nil {
				b.Fatal(err)
			}
			var off, on, ratio, offAllocs, onAllocs, offCPU, onCPU, cpuRatio, offFPW, onFPW []float64
			var msgs int
			for _, p := range pairs {
				off = append(off, p.Off.Rate())
				on = append(on, p.On.Rate())
				ratio = append(ratio, p.Ratio())
				offAllocs = append(offAllocs, float64(p.Off.Allocs)/float64(p.Off.Frames))
				onAllocs = append(onAllocs, float64(p.On.Allocs)/float64(p.On.Frames))
				offCPU = append(offCPU, p.Off.CPUPerFrame())
				onCPU = append(onCPU, p.On.CPUPerFrame())
				cpuRatio = append(cpuRatio, p.Off.CPUPerFrame()/p.On.CPUPerFrame())
				offFPW = append(offFPW, float64(p.Off.Frames)/float64(max(p.Off.Writes, 1)))
				onFPW = append(onFPW, float64(p.On.Frames)/float64(max(p.On.Writes, 1)))
				msgs = max(msgs, p.On.Frames)
			}
			b.ReportMetric(median(off), "off-msgs/s")
			b.ReportMetric(median(on), "on-msgs/s")
			b.ReportMetric(median(ratio), "on/off")
			b.ReportMetric(slices.Min(ratio), "on/off-min")
			b.ReportMetric(slices.Max(ratio), "on/off-max")
			b.ReportMetric(median(offCPU), "off-cpu-ns/msg")
			b.ReportMetric(median(onCPU), "on-cpu-ns/msg")
			b.ReportMetric(median(cpuRatio), "cpu-off/on")
			b.ReportMetric(median(offAllocs), "off-allocs/msg")
			b.ReportMetric(median(onAllocs), "on-allocs/msg")
			b.ReportMetric(median(offFPW), "off-frames/write")
			b.ReportMetric(median(onFPW), "on-frames/write")
			b.ReportMetric(float64(msgs*storedFrameLen(b, size))/float64(sideLimits().Bytes), "store-turns/round")
		})
	}
}

// BenchmarkStoreReplay is the replay after an outage: each op is one round
// in which the test server stops, one producer stores -replay.bytes
// (default 256 MiB) of 1 KiB messages into a memory store (512 MiB,
// 512 Ki messages) while the client keeps trying to reconnect (1 ms apart),
// and the server starts again; the time runs from Start until PublishFlush
// returns (reconnect, logon, the replay as writev batches of the stored
// bytes, every persisted ack processed). Its rate is set against, in the
// same round, the ceiling writing the same bytes to a discarding reader
// (CeilingBytes) and a bare connection writing the same frames to a test
// server and waiting for the flush's persisted ack (RawToServer). It
// reports the medians over the rounds; ns/op, MB/s and allocs/op are the
// replay's. It holds about 1 GiB (the store, its commit table, the
// ceiling's pre-encoded frames). Both test servers send one persisted ack
// per publish; -store.conflate 1ms makes them conflate.
//
//	go test -run '^$' -bench StoreReplay -benchtime 5x -count 3 ./bench/
func BenchmarkStoreReplay(b *testing.B) {
	b.ReportAllocs()
	b.StopTimer()
	rounds, err := StoreReplay("orders", 1024, *replayBytes, b.N, ampstest.Config{Persisted: persistMode()}, replayLimits, benchTiming(b))
	if err != nil {
		b.Fatal(err)
	}
	var replay, ceiling, raw, vsCeiling, vsRaw, perWrite []float64
	for _, r := range rounds {
		replay = append(replay, r.Rate(r.Replay)/1e6)
		ceiling = append(ceiling, r.Rate(r.Ceiling)/1e6)
		raw = append(raw, r.Rate(r.Raw)/1e6)
		vsCeiling = append(vsCeiling, r.Ceiling.Seconds()/r.Replay.Seconds())
		vsRaw = append(vsRaw, r.Raw.Seconds()/r.Replay.Seconds())
		perWrite = append(perWrite, float64(r.Bytes)/float64(max(r.Writes, 1))/1024)
	}
	b.SetBytes(int64(rounds[0].Bytes))
	b.ReportMetric(float64(rounds[0].Bytes)/(1<<20), "stored-MiB")
	b.ReportMetric(median(replay), "replay-MB/s")
	b.ReportMetric(median(ceiling), "ceiling-MB/s")
	b.ReportMetric(median(raw), "raw-MB/s")
	b.ReportMetric(median(vsCeiling), "replay/ceiling")
	b.ReportMetric(slices.Min(vsCeiling), "replay/ceiling-min")
	b.ReportMetric(slices.Max(vsCeiling), "replay/ceiling-max")
	b.ReportMetric(median(vsRaw), "replay/raw")
	b.ReportMetric(median(perWrite), "KiB/write")
}

// TestStoreSideBySideMachinery runs BenchmarkStoreSideBySide's harness on
// a tiny scale (two rounds of 10,000 messages through the smallest store,
// recycled about 30 times per round): the rounds' own checks (the server
// accepted every publish, persisted acks covered them all) must pass.
func TestStoreSideBySideMachinery(t *testing.T) {
	limits := store.Limits{Bytes: store.MinBytes, Messages: store.MinMessages}
	pairs, err := StoreSideBySide("orders", 128, 20000, 2, ampstest.Config{}, limits, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 {
		t.Fatalf("%d pairs, want 2", len(pairs))
	}
	for i, p := range pairs {
		if p.Off.Frames != 10000 || p.On.Frames != 10000 {
			t.Errorf("pair %d: %d and %d messages, want 10000 each", i, p.Off.Frames, p.On.Frames)
		}
		// Writes is not checked: the writer counts a writev after the
		// kernel took its bytes, so the flush's ack can come back (and the
		// round end) before the last count lands.
		if p.Off.Elapsed <= 0 || p.On.Elapsed <= 0 {
			t.Errorf("pair %d: %+v", i, p)
		}
		if turns := p.On.Frames * storedFrameLen(t, 128) / limits.Bytes; turns < 10 {
			t.Errorf("pair %d: the store turned over %d times, want at least 10", i, turns)
		}
		t.Logf("pair %d: off %.0f msgs/s, on %.0f msgs/s, on/off %.2f", i, p.Off.Rate(), p.On.Rate(), p.Ratio())
	}
}

// TestStoreReplayMachinery runs BenchmarkStoreReplay's harness on a tiny
// scale (two outages of 2 MiB each): each round's own checks (the store
// held the bytes, the server accepted exactly the stored messages with no
// duplicate, the raw connection's acks covered its frames) must pass.
func TestStoreReplayMachinery(t *testing.T) {
	rounds, err := StoreReplay("orders", 1024, 2<<20, 2, ampstest.Config{}, store.Limits{Bytes: 4 << 20, Messages: 4096}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 2 {
		t.Fatalf("%d rounds, want 2", len(rounds))
	}
	for i, r := range rounds {
		if r.Frames < 1800 || r.Bytes < 2<<20-2048 || r.Replay <= 0 || r.Ceiling <= 0 || r.Raw <= 0 || r.Writes == 0 {
			t.Errorf("round %d: %+v", i, r)
		}
		t.Logf("round %d: %d frames, %d bytes: replay %v, ceiling %v, raw %v, %d writes", i, r.Frames, r.Bytes, r.Replay, r.Ceiling, r.Raw, r.Writes)
	}
}

// TestStoredFrames checks that StoredFrames encodes what the client
// stores: each frame parses as a publish asking for a persisted ack, with
// consecutive sequence numbers and the payload.
func TestStoredFrames(t *testing.T) {
	buf, err := StoredFrames("orders", 100, 3, 41)
	if err != nil {
		t.Fatal(err)
	}
	rd := frame.NewReader(bytes.NewReader(buf), 4096, 4096)
	for i := 0; i < 3; i++ {
		body, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		var h frame.Header
		payload, err := h.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		if h.Command != frame.CmdPublish || string(h.Topic) != "orders" || h.Ack != frame.AckPersisted || h.Seq != uint64(41+i) || len(payload) != 100 {
			t.Fatalf("frame %d: %+v, %d bytes of payload", i, h, len(payload))
		}
	}
}

func persistMode() ampstest.PersistMode {
	if *conflate > 0 {
		return ampstest.Conflated{Interval: *conflate}
	}
	return ampstest.Immediate{}
}

// benchTiming runs b's timer during the measured part of each round only.
func benchTiming(b *testing.B) func(bool) {
	return func(on bool) {
		if on {
			b.StartTimer()
		} else {
			b.StopTimer()
		}
	}
}

// storedFrameLen is the size of one stored frame of payloadSize bytes (a
// 19-digit sequence number, as the client's).
func storedFrameLen(tb testing.TB, payloadSize int) int {
	n, err := frame.PublishLen(&frame.Publish{Topic: "orders", Ack: frame.AckPersisted, Seq: 1e18}, payloadSize)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
