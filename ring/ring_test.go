package ring

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"strconv"
	"testing"
	"time"
)

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantField string // "" = valid
		wantSize  int
	}{
		{name: "zero value takes defaults", cfg: Config{}, wantSize: DefaultSize},
		{name: "min size", cfg: Config{Size: MinSize}, wantSize: MinSize},
		{name: "explicit all", cfg: Config{Size: 1 << 16, MaxInline: 1000, MaxExternal: 1, MaxClaim: 1 << 20}, wantSize: 1 << 16},
		{name: "max inline equals size", cfg: Config{Size: MinSize, MaxInline: MinSize}, wantSize: MinSize},
		{name: "too small", cfg: Config{Size: 2048}, wantField: "Size"},
		{name: "not a power of two above max", cfg: Config{Size: MaxSize + 4096}, wantField: "Size"},
		{name: "not power of two", cfg: Config{Size: 6000}, wantField: "Size"},
		{name: "negative size", cfg: Config{Size: -4096}, wantField: "Size"},
		{name: "inline above size", cfg: Config{Size: MinSize, MaxInline: MinSize + 1}, wantField: "MaxInline"},
		{name: "negative inline", cfg: Config{MaxInline: -1}, wantField: "MaxInline"},
		{name: "negative external", cfg: Config{MaxExternal: -1}, wantField: "MaxExternal"},
		{name: "negative max claim", cfg: Config{MaxClaim: -5}, wantField: "MaxClaim"},
		{name: "too many frames", cfg: Config{MaxFrames: MaxMaxFrames + 1}, wantField: "MaxFrames"},
		{name: "negative frames", cfg: Config{MaxFrames: -1}, wantField: "MaxFrames"},
	}
	if strconv.IntSize == 64 {
		big := uint64(MaxExternalLimit) + 1 // an int only holds it on 64-bit
		tests = append(tests, struct {
			name      string
			cfg       Config
			wantField string
			wantSize  int
		}{name: "max claim above 4 GiB", cfg: Config{MaxClaim: int(big)}, wantField: "MaxClaim"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.cfg)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if r.Size() != tt.wantSize {
					t.Fatalf("Size() = %d, want %d", r.Size(), tt.wantSize)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New err = %v, want ErrInvalidConfig", err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.wantField {
				t.Fatalf("New err = %#v, want ConfigError for %s", err, tt.wantField)
			}
		})
	}
}

func TestClaimSizeErrors(t *testing.T) {
	r := newRing(t, Config{Size: MinSize, MaxClaim: 10_000}, 0, 0)
	tests := []struct {
		n    int
		want error
	}{
		{0, ErrInvalidSize},
		{-1, ErrInvalidSize},
		{10_001, ErrTooLarge},
	}
	for _, tt := range tests {
		_, err := r.TryClaim(tt.n)
		if !errors.Is(err, tt.want) {
			t.Errorf("TryClaim(%d) = %v, want %v", tt.n, err, tt.want)
		}
		_, err = r.Claim(context.Background(), tt.n)
		var se *SizeError
		if !errors.Is(err, tt.want) || !errors.As(err, &se) || se.N != tt.n {
			t.Errorf("Claim(%d) = %v, want SizeError wrapping %v", tt.n, err, tt.want)
		}
	}
	if r.Claimed() != 0 {
		t.Fatalf("failed claims moved the claim cursor to %d", r.Claimed())
	}
}

// TestSingleProducerWrap claims frames of sizes cycling 1..200 in a 4 KiB
// arena until every arena offset has started a frame, and checks the stream
// byte for byte through Peek and random partial Releases. The start cursors
// are also placed just below the truncation points of the claim word.
func TestSingleProducerWrap(t *testing.T) {
	tests := []struct {
		name     string
		pos, seq uint64
	}{
		{"from zero", 0, 0},
		{"across 36-bit position and 27-bit seq wrap", 1<<posBits - 50_000, 1<<seqBits - 500},
		{"odd start", 1<<40 + 3, 1<<30 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing(t, Config{Size: 4096}, tt.pos, tt.seq)
			rng := rand.New(rand.NewSource(1))
			var (
				model    []byte // expected bytes from r.Released() on
				seen     [4096]bool
				nSeen    int
				wraps    int
				size     = 1
				nextSeq  = tt.seq
				iov      = make([][]byte, 0, 8)
				deadline = time.Now().Add(10 * time.Second)
			)
			for round := 0; round < 100_000 && (nSeen < len(seen) || wraps < 50); round++ {
				if time.Now().After(deadline) {
					t.Fatalf("timeout: %d offsets seen, %d wraps", nSeen, wraps)
				}
				// Produce until full.
				for k := 0; k < 1000; k++ {
					c, err := r.TryClaim(size)
					if errors.Is(err, ErrFull) {
						break
					}
					if err != nil {
						t.Fatalf("TryClaim(%d): %v", size, err)
					}
					if c.Seq != nextSeq || len(c.Buf) != size || cap(c.Buf) != size {
						t.Fatalf("claim seq %d len %d cap %d, want seq %d len %d", c.Seq, len(c.Buf), cap(c.Buf), nextSeq, size)
					}
					off := int(c.start & r.mask)
					if !seen[off] {
						seen[off] = true
						nSeen++
					}
					if off+size > 4096 {
						wraps++
						if !r.wraps(&c) || &c.Buf[0] != &r.scratch[0] {
							t.Fatalf("claim at offset %d size %d is not a wrap claim", off, size)
						}
					}
					fillPattern(c.Buf, c.Seq)
					model = append(model, c.Buf...)
					nextSeq++
					r.Commit(&c)
					size = size%200 + 1
				}
				if err := r.Wait(nil); err != nil {
					t.Fatalf("Wait: %v", err)
				}
				// Consume a random part.
				var covered int
				iov, covered = r.Peek(iov[:0])
				if covered != len(model) {
					t.Fatalf("Peek covered %d bytes, want %d", covered, len(model))
				}
				if len(iov) > 2 {
					t.Fatalf("Peek returned %d slices for an inline stream, want <= 2", len(iov))
				}
				got := bytes.Join(iov, nil)
				if !bytes.Equal(got, model) {
					t.Fatalf("stream mismatch at release %d", r.Released())
				}
				k := 1 + rng.Intn(covered)
				r.Release(k)
				model = model[k:]
				if got, want := r.Released(), r.Committed()-uint64(len(model)); got != want {
					t.Fatalf("Released() = %d, want %d", got, want)
				}
				if r.Len() != len(model) {
					t.Fatalf("Len() = %d, want %d", r.Len(), len(model))
				}
			}
			if nSeen < len(seen) {
				t.Fatalf("only %d of %d offsets started a frame", nSeen, len(seen))
			}
			if r.Claimed() != r.Committed() || r.Committed()-r.Released() != uint64(len(model)) {
				t.Fatalf("cursors claimed %d committed %d released %d, model %d", r.Claimed(), r.Committed(), r.Released(), len(model))
			}
		})
	}
}

// TestPeekLayout checks the iovec layout: inline runs coalesce, an external
// frame is its own entry at its stream position, a run wrapping the arena end
// is two slices, and cap(iov) limits the entries.
func TestPeekLayout(t *testing.T) {
	r := newRing(t, Config{Size: MinSize, MaxInline: 512, MaxExternal: 8192}, 0, 0)
	put := func(n int, b byte) Claim {
		t.Helper()
		c, err := r.TryClaim(n)
		if err != nil {
			t.Fatalf("TryClaim(%d): %v", n, err)
		}
		for i := range c.Buf {
			c.Buf[i] = b
		}
		ret := c
		r.Commit(&c)
		return ret
	}
	put(100, 'a')
	put(200, 'b')
	ext := put(1000, 'X')
	if ext.bb == nil || ext.Seq != 2 || ext.End != 1300 {
		t.Fatalf("external claim bb %p seq %d end %d", ext.bb, ext.Seq, ext.End)
	}
	put(50, 'c')

	iov, n := r.Peek(make([][]byte, 0, 8))
	want := [][]byte{
		append(bytes.Repeat([]byte{'a'}, 100), bytes.Repeat([]byte{'b'}, 200)...),
		bytes.Repeat([]byte{'X'}, 1000),
		bytes.Repeat([]byte{'c'}, 50),
	}
	if n != 1350 || len(iov) != len(want) {
		t.Fatalf("Peek = %d entries, %d bytes; want %d entries, 1350 bytes", len(iov), n, len(want))
	}
	for i := range want {
		if !bytes.Equal(iov[i], want[i]) {
			t.Fatalf("entry %d = %q..., want %q...", i, iov[i][:1], want[i][:1])
		}
	}
	if r.Len() != 350 {
		t.Fatalf("Len() = %d, want 350 arena bytes", r.Len())
	}
	// cap(iov) == 2 stops after the external entry.
	iov, n = r.Peek(make([][]byte, 0, 2))
	if len(iov) != 2 || n != 1300 {
		t.Fatalf("Peek cap 2 = %d entries, %d bytes; want 2, 1300", len(iov), n)
	}
	// Release into the middle of the external frame: it is still peeked,
	// from the released point on.
	r.Release(700)
	iov, n = r.Peek(iov[:0])
	if n != 650 || len(iov) != 2 || len(iov[0]) != 600 || iov[0][0] != 'X' {
		t.Fatalf("after partial release: %d entries, %d bytes", len(iov), n)
	}
	r.Release(600)
	// Now fill up to the arena end so that the next run wraps: the arena
	// floor moved past the external frame's image.
	for r.Claimed()+400 < 4096+200 {
		put(400, 'd')
	}
	put(400, 'e') // crosses the arena end
	iov, n = r.Peek(iov[:0])
	if int(r.Committed()-r.Released()) != n {
		t.Fatalf("Peek covered %d, want %d", n, r.Committed()-r.Released())
	}
	if len(iov) != 2 || len(iov[0])+int(r.Released()&r.mask) != 4096 {
		t.Fatalf("wrapping run: %d entries (first %d bytes), want 2 ending at the arena end", len(iov), len(iov[0]))
	}
	last := iov[1]
	if !bytes.Equal(last[len(last)-400:], bytes.Repeat([]byte{'e'}, 400)) {
		t.Fatalf("wrapped frame not copied into the arena")
	}
	// An empty iov capacity returns nothing.
	if iov, n = r.Peek(nil); len(iov) != 0 || n != 0 {
		t.Fatalf("Peek(nil) = %d entries, %d bytes", len(iov), n)
	}
}

func TestTryClaimFull(t *testing.T) {
	r := newRing(t, Config{Size: MinSize, MaxInline: 1024, MaxExternal: 3000}, 0, 0)
	for i := 0; i < 4; i++ {
		c, err := r.TryClaim(1024)
		if err != nil {
			t.Fatalf("TryClaim %d: %v", i, err)
		}
		r.Commit(&c)
	}
	if _, err := r.TryClaim(1); !errors.Is(err, ErrFull) {
		t.Fatalf("TryClaim on a full arena = %v, want ErrFull", err)
	}
	// External frames do not need arena space, only external budget.
	c1, err := r.TryClaim(2000)
	if err != nil {
		t.Fatalf("external TryClaim: %v", err)
	}
	if _, err := r.TryClaim(2000); !errors.Is(err, ErrFull) {
		t.Fatalf("external TryClaim over MaxExternal = %v, want ErrFull", err)
	}
	r.Commit(&c1)
	before := r.Claimed()
	if _, err := r.TryClaim(1); !errors.Is(err, ErrFull) {
		t.Fatalf("TryClaim = %v, want ErrFull", err)
	}
	if r.Claimed() != before {
		t.Fatalf("failed TryClaim moved the claim cursor")
	}
	// Drain everything; a single frame larger than MaxExternal is admitted
	// when no external frame is in flight.
	iov, n := r.Peek(make([][]byte, 0, 8))
	if n != 4096+2000 || len(iov) != 2 {
		t.Fatalf("Peek = %d entries %d bytes", len(iov), n)
	}
	r.Release(n)
	big, err := r.TryClaim(5000)
	if err != nil {
		t.Fatalf("TryClaim(5000) on an idle external budget: %v", err)
	}
	if _, err := r.TryClaim(2000); !errors.Is(err, ErrFull) {
		t.Fatalf("TryClaim beside an oversized external frame = %v, want ErrFull", err)
	}
	r.Commit(&big)
}

func TestClaimCancelledContext(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	fillUp(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Claim(ctx, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("Claim with a cancelled ctx on a full ring = %v, want context.Canceled", err)
	}
	// An external claim over a used-up external budget blocks too.
	big, err := r.TryClaim(5000)
	if err != nil {
		t.Fatalf("external TryClaim: %v", err)
	}
	r.Commit(&big)
	used := r.extUse.Load()
	if _, err := r.Claim(ctx, 10_000); !errors.Is(err, context.Canceled) {
		t.Fatalf("external Claim with a cancelled ctx = %v", err)
	}
	if r.extUse.Load() != used {
		t.Fatalf("external budget leaked: %#x, want %#x", r.extUse.Load(), used)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := r.Claim(ctx2, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Claim with a deadline = %v, want DeadlineExceeded", err)
	}
	if r.waiters.Load() != 0 {
		t.Fatalf("waiters = %d after cancelled claims", r.waiters.Load())
	}
	// ctx is only consulted when Claim would block.
	drain(t, r)
	c, err := r.Claim(ctx, 10)
	if err != nil {
		t.Fatalf("Claim with a cancelled ctx on a ring with space: %v", err)
	}
	r.Commit(&c)
}

// fillUp commits frames until TryClaim reports ErrFull.
func fillUp(t *testing.T, r *Ring) {
	t.Helper()
	for i := 0; i < 1_000_000; i++ {
		c, err := r.TryClaim(64)
		if errors.Is(err, ErrFull) {
			return
		}
		if err != nil {
			t.Fatalf("TryClaim: %v", err)
		}
		r.Commit(&c)
	}
	t.Fatalf("ring never became full")
}

// drain releases everything committed and peekable in one go. Producers
// may commit more meanwhile.
func drain(t *testing.T, r *Ring) {
	t.Helper()
	iov, n := r.Peek(make([][]byte, 0, 64))
	if len(iov) == cap(iov) {
		t.Fatalf("drain: iov too short")
	}
	r.Release(n)
}

func TestBlockedClaimWakes(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		wakeBy  string
		wantErr error
	}{
		{"inline by release", 100, "release", nil},
		{"external by release", 3000, "release", nil},
		{"inline by close", 100, "close", ErrClosed},
		{"external by close", 3000, "close", ErrClosed},
		{"inline by cancel", 100, "cancel", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRing(t, Config{Size: MinSize, MaxInline: 512, MaxExternal: 4000}, 0, 0)
			fillUp(t, r)
			if tt.n > 512 {
				c, err := r.TryClaim(4000) // use up the external budget
				if err != nil {
					t.Fatal(err)
				}
				r.Commit(&c)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				c   Claim
				err error
			}
			res := make(chan result, 1)
			go func() {
				c, err := r.Claim(ctx, tt.n)
				res <- result{c, err}
			}()
			if !waitFor(5*time.Second, func() bool { return r.waiters.Load() == 1 }) {
				t.Fatalf("Claim did not park")
			}
			select {
			case got := <-res:
				t.Fatalf("Claim returned while the ring is full: %v", got.err)
			default:
			}
			switch tt.wakeBy {
			case "release":
				drain(t, r)
			case "close":
				r.Close()
			case "cancel":
				cancel()
			}
			select {
			case got := <-res:
				if !errors.Is(got.err, tt.wantErr) {
					t.Fatalf("Claim = %v, want %v", got.err, tt.wantErr)
				}
				if got.err == nil {
					if len(got.c.Buf) != tt.n {
						t.Fatalf("claimed %d bytes, want %d", len(got.c.Buf), tt.n)
					}
					r.Commit(&got.c)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("Claim still blocked after %s", tt.wakeBy)
			}
			if w := r.waiters.Load(); w != 0 {
				t.Fatalf("waiters = %d", w)
			}
		})
	}
}

// TestManyBlockedClaimsWakeInChain parks several producers and checks that
// one Release wakes all that now fit.
func TestManyBlockedClaimsWakeInChain(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	fillUp(t, r)
	const n = 5
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			c, err := r.Claim(context.Background(), 100)
			if err == nil {
				r.Commit(&c)
			}
			errs <- err
		}()
	}
	if !waitFor(5*time.Second, func() bool { return r.waiters.Load() == n }) {
		t.Fatalf("waiters = %d, want %d", r.waiters.Load(), n)
	}
	drain(t, r)
	for i := 0; i < n; i++ {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("Claim: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d blocked claims woke", i, n)
		}
	}
}

func TestClose(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	c, err := r.TryClaim(20)
	if err != nil {
		t.Fatal(err)
	}
	r.Commit(&c)
	pending, err := r.TryClaim(10) // claimed before Close, committed after
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close() // idempotent
	if _, err := r.TryClaim(1); !errors.Is(err, ErrClosed) {
		t.Fatalf("TryClaim after Close = %v", err)
	}
	if _, err := r.Claim(context.Background(), 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Claim after Close = %v", err)
	}
	if _, err := r.Claim(context.Background(), 100_000); !errors.Is(err, ErrClosed) {
		t.Fatalf("external Claim after Close = %v", err)
	}
	// Committed data is still delivered after Close.
	if err := r.Wait(nil); err != nil {
		t.Fatalf("Wait after Close with data = %v", err)
	}
	iov, n := r.Peek(make([][]byte, 0, 4))
	if n != 20 || len(iov) != 1 {
		t.Fatalf("Peek after Close = %d entries %d bytes", len(iov), n)
	}
	r.Release(n)
	// The frame claimed before Close is still outstanding: Wait waits for it.
	done := make(chan error, 1)
	go func() { done <- r.Wait(nil) }()
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before the pending frame was committed", err)
	case <-time.After(20 * time.Millisecond):
	}
	r.Commit(&pending)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v, want nil with data left", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Wait not woken by a commit after Close")
	}
	iov, n = r.Peek(iov[:0])
	if n != 10 || len(iov) != 1 {
		t.Fatalf("Peek after Close = %d entries %d bytes", len(iov), n)
	}
	r.Release(n)
	if err := r.Wait(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait on a closed, drained ring = %v", err)
	}
}

func TestCloseWakesParkedWait(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	done := make(chan error, 1)
	go func() { done <- r.Wait(nil) }()
	if !waitFor(5*time.Second, func() bool { return r.waitSeq.Load() != 0 }) {
		t.Fatalf("Wait did not park")
	}
	r.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Wait = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Close did not wake Wait")
	}
}

func TestWaitDone(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	closed := make(chan struct{})
	close(closed)
	if err := r.Wait(closed); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait(closed done) = %v, want ErrClosed", err)
	}
	// Parked, then done is closed.
	stop := make(chan struct{})
	res := make(chan error, 1)
	go func() { res <- r.Wait(stop) }()
	if !waitFor(5*time.Second, func() bool { return r.waitSeq.Load() != 0 }) {
		t.Fatalf("Wait did not park")
	}
	close(stop)
	select {
	case err := <-res:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Wait = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("closing done did not wake Wait")
	}
	// Data takes precedence over a closed done.
	c, _ := r.TryClaim(5)
	r.Commit(&c)
	if err := r.Wait(closed); err != nil {
		t.Fatalf("Wait(closed done) with data = %v, want nil", err)
	}
}

func TestWaitWokenByCommit(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	for i := 0; i < 20; i++ {
		res := make(chan error, 1)
		go func() { res <- r.Wait(nil) }()
		if !waitFor(5*time.Second, func() bool { return r.waitSeq.Load() != 0 }) {
			t.Fatalf("Wait did not park")
		}
		c, err := r.TryClaim(10)
		if err != nil {
			t.Fatal(err)
		}
		r.Commit(&c)
		select {
		case err := <-res:
			if err != nil {
				t.Fatalf("Wait = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Commit did not wake Wait (round %d)", i)
		}
		drain(t, r)
	}
}

// TestCommitOrder commits claims out of order: every Commit returns at once,
// and a frame stays invisible until all its predecessors are committed.
func TestCommitOrder(t *testing.T) {
	r := newRing(t, Config{Size: MinSize, MaxInline: 100}, 0, 0)
	a, _ := r.TryClaim(10)
	b, _ := r.TryClaim(20)
	x, _ := r.TryClaim(200) // external
	d, _ := r.TryClaim(30)
	if a.Seq != 0 || b.Seq != 1 || x.Seq != 2 || d.Seq != 3 || a.End != 10 || b.End != 30 || x.End != 230 || d.End != 260 {
		t.Fatalf("claims a=(%d,%d) b=(%d,%d) x=(%d,%d) d=(%d,%d)", a.Seq, a.End, b.Seq, b.End, x.Seq, x.End, d.Seq, d.End)
	}
	steps := []struct {
		c             *Claim
		wantCommitted uint64
	}{
		{&d, 0},   // after the external frame: recorded, not visible
		{&b, 0},   // before a: recorded, not visible
		{&x, 0},   // external, still behind a
		{&a, 260}, // closes the gap: everything is visible
	}
	for i, st := range steps {
		r.Commit(st.c)
		if got := r.Committed(); got != st.wantCommitted {
			t.Fatalf("step %d: Committed() = %d, want %d", i, got, st.wantCommitted)
		}
		if st.wantCommitted == 0 {
			if r.hasData() {
				t.Fatalf("step %d: the consumer sees data before the first commit", i)
			}
			if _, n := r.Peek(make([][]byte, 0, 4)); n != 0 {
				t.Fatalf("step %d: Peek saw %d bytes before the first commit", i, n)
			}
		}
	}
	iov, n := r.Peek(make([][]byte, 0, 4))
	if n != 260 || len(iov) != 3 || len(iov[0]) != 30 || len(iov[1]) != 200 || len(iov[2]) != 30 {
		t.Fatalf("Peek = %d entries, %d bytes", len(iov), n)
	}
}

func TestMisusePanics(t *testing.T) {
	r := newRing(t, Config{Size: MinSize}, 0, 0)
	c, _ := r.TryClaim(10)
	r.Commit(&c)
	tests := []struct {
		name string
		f    func()
	}{
		{"commit twice", func() { r.Commit(&c) }},
		{"commit zero claim", func() { r.Commit(&Claim{}) }},
		{"release beyond committed", func() { r.Release(11) }},
		{"release negative", func() { r.Release(-1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("no panic")
				}
			}()
			tt.f()
		})
	}
}

func TestPackUnpack(t *testing.T) {
	tests := []struct {
		seq, pos, seqBase, posBase uint64
	}{
		{0, 0, 0, 0},
		{5, 100, 0, 0},
		{1<<seqBits + 3, 1<<posBits + 7, 1<<seqBits - 10, 1<<posBits - 10},
		{1<<40 + 1<<26 - 1, 1<<50 + 1<<35, 1 << 40, 1 << 50},
		{^uint64(0) >> 1, ^uint64(0) >> 2, ^uint64(0)>>1 - 1<<26, ^uint64(0)>>2 - 1<<35},
	}
	for _, tt := range tests {
		w := pack(tt.seq, tt.pos) | closedBit
		if got := unpackPos(w, tt.posBase); got != tt.pos {
			t.Errorf("unpackPos(pack(%d,%d), %d) = %d", tt.seq, tt.pos, tt.posBase, got)
		}
		if got := unpackSeq(w, tt.seqBase); got != tt.seq {
			t.Errorf("unpackSeq(pack(%d,%d), %d) = %d", tt.seq, tt.pos, tt.seqBase, got)
		}
	}
}

// TestMaxFrames holds the first claim uncommitted while later frames commit
// out of order: they fill the commit table up to MaxFrames, further claims
// are refused, and committing the first frame publishes them all.
func TestMaxFrames(t *testing.T) {
	r := newRing(t, Config{Size: 1 << 16, MaxFrames: 256}, 0, 0)
	var first Claim
	if err := r.TryClaimInto(&first, 3); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 256; i++ {
		var c Claim
		if err := r.TryClaimInto(&c, 3); err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
		fillPattern(c.Buf, c.Seq)
		r.Commit(&c)
	}
	var c Claim
	if err := r.TryClaimInto(&c, 3); !errors.Is(err, ErrFull) {
		t.Fatalf("claim beyond MaxFrames = %v, want ErrFull", err)
	}
	if c.Buf != nil || c.End != 0 {
		t.Fatalf("failed TryClaimInto left %+v", c)
	}
	if r.Committed() != 0 || r.Claimed() != 768 {
		t.Fatalf("committed %d claimed %d, want 0 and 768", r.Committed(), r.Claimed())
	}
	fillPattern(first.Buf, first.Seq)
	r.Commit(&first)
	if r.Committed() != 768 {
		t.Fatalf("Committed() = %d after the gap closed, want 768", r.Committed())
	}
	iov, n := r.Peek(make([][]byte, 0, 4))
	if n != 768 || len(iov) != 1 {
		t.Fatalf("Peek = %d entries %d bytes", len(iov), n)
	}
	for seq := uint64(0); seq < 256; seq++ {
		for i := 0; i < 3; i++ {
			if got := iov[0][seq*3+uint64(i)]; got != pattern(seq, i) {
				t.Fatalf("frame %d byte %d = %#x, want %#x", seq, i, got, pattern(seq, i))
			}
		}
	}
	// MaxFrames bounds frames not yet released: seeing them is not enough.
	if err := r.TryClaimInto(&c, 3); !errors.Is(err, ErrFull) {
		t.Fatalf("claim after Peek, before Sent = %v, want ErrFull", err)
	}
	r.Sent(n)
	if r.ReleasedSeq() != 256 || r.Released() != 768 {
		t.Fatalf("after Sent: released %d frames, %d bytes; want 256, 768", r.ReleasedSeq(), r.Released())
	}
	if err := r.TryClaimInto(&c, 3); err != nil {
		t.Fatalf("claim after Sent: %v", err)
	}
	r.Commit(&c)
}

// TestOutOfOrderCommits commits a window of claims in reverse order many
// times, so the commit table's slots are reused with stale entries in them.
func TestOutOfOrderCommits(t *testing.T) {
	r := newRing(t, Config{Size: MinSize, MaxFrames: 256}, 0, 0)
	claims := make([]Claim, 40)
	iov := make([][]byte, 0, 4)
	var want []byte
	for round := 0; round < 200; round++ {
		want = want[:0]
		for i := range claims {
			if err := r.TryClaimInto(&claims[i], 1+i%5); err != nil {
				t.Fatalf("round %d claim %d: %v", round, i, err)
			}
			fillPattern(claims[i].Buf, claims[i].Seq)
			want = append(want, claims[i].Buf...)
		}
		start := r.Committed()
		for i := len(claims) - 1; i >= 1; i-- {
			r.Commit(&claims[i])
		}
		if r.Committed() != start {
			t.Fatalf("round %d: frames visible before the first was committed", round)
		}
		r.Commit(&claims[0])
		var n int
		iov, n = r.Peek(iov[:0])
		if n != len(want) || !bytes.Equal(bytes.Join(iov, nil), want) {
			t.Fatalf("round %d: stream mismatch (%d bytes, want %d)", round, n, len(want))
		}
		r.Release(n)
	}
}
