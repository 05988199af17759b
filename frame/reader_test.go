package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// testStream returns the concatenation of frames with the given body sizes, and the bodies.
func testStream(sizes ...int) ([]byte, [][]byte) {
	var stream []byte
	var bodies [][]byte
	for i, n := range sizes {
		body := make([]byte, n)
		for j := range body {
			body[j] = byte(i + j*7)
		}
		stream = binary.BigEndian.AppendUint32(stream, uint32(n))
		stream = append(stream, body...)
		bodies = append(bodies, body)
	}
	return stream, bodies
}

// chunkReader returns data in chunks whose sizes cycle through sizes.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
	reads int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.sizes) > 0 {
		n = min(n, c.sizes[c.i%len(c.sizes)])
		c.i++
	}
	n = copy(p, c.data[:n])
	c.data = c.data[n:]
	c.reads++
	return n, nil
}

// readAll calls Next until it fails, bounded by limit frames.
func readAll(t *testing.T, r *Reader, limit int) ([][]byte, error) {
	t.Helper()
	var got [][]byte
	for range limit {
		b, err := r.Next()
		if err != nil {
			return got, err
		}
		got = append(got, bytes.Clone(b))
	}
	t.Fatalf("more than %d frames", limit)
	return nil, nil
}

func checkFrames(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
}

func TestReaderChunkings(t *testing.T) {
	sizes := []int{0, 1, 17, 0, 3, 200, 64, 59, 60, 61, 1000, 5000, 2, 0}
	stream, want := testStream(sizes...)
	cases := []struct {
		name string
		r    func() io.Reader
	}{
		{"whole", func() io.Reader { return bytes.NewReader(stream) }},
		{"one byte", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) }},
		{"half", func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) }},
		{"data with EOF", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(stream)) }},
		{"prefix split 1", func() io.Reader { return &chunkReader{data: stream, sizes: []int{1, 5, 3}} }},
		{"prefix split 2", func() io.Reader { return &chunkReader{data: stream, sizes: []int{2, 7}} }},
		{"prefix split 3", func() io.Reader { return &chunkReader{data: stream, sizes: []int{3, 4, 11}} }},
	}
	for _, c := range cases {
		for _, bufSize := range []int{0, 1, 64, 100, 4096} {
			t.Run(fmt.Sprintf("%s/buf%d", c.name, bufSize), func(t *testing.T) {
				r := NewReader(c.r(), bufSize, 0)
				got, err := readAll(t, r, 100)
				if err != io.EOF {
					t.Fatalf("err = %v, want io.EOF", err)
				}
				checkFrames(t, got, want)
				if _, err := r.Next(); err != io.EOF {
					t.Fatalf("second EOF: %v", err)
				}
				if r.Buffered() != 0 {
					t.Fatalf("Buffered = %d", r.Buffered())
				}
			})
		}
	}
}

func TestReaderRandomChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 50 {
		sizes := make([]int, 1+rng.IntN(40))
		for i := range sizes {
			sizes[i] = rng.IntN(300)
		}
		stream, want := testStream(sizes...)
		chunks := make([]int, 1+rng.IntN(5))
		for i := range chunks {
			chunks[i] = 1 + rng.IntN(400)
		}
		r := NewReader(&chunkReader{data: stream, sizes: chunks}, 64+rng.IntN(200), 300)
		got, err := readAll(t, r, 100)
		if err != io.EOF {
			t.Fatalf("iter %d: err = %v", iter, err)
		}
		checkFrames(t, got, want)
	}
}

func TestReaderManyFramesPerRead(t *testing.T) {
	sizes := make([]int, 100)
	for i := range sizes {
		sizes[i] = i % 13 // 100 frames, 994 bytes in all
	}
	stream, want := testStream(sizes...)
	cr := &chunkReader{data: stream}
	r := NewReader(cr, 4096, 0)
	got, err := readAll(t, r, 1000)
	if err != io.EOF {
		t.Fatal(err)
	}
	checkFrames(t, got, want)
	if cr.reads != 1 {
		t.Fatalf("%d reads for 100 frames, want 1", cr.reads)
	}
}

func TestReaderBufferedAndAliasing(t *testing.T) {
	stream, _ := testStream(3, 5, 7)
	r := NewReader(bytes.NewReader(stream), 0, 0)
	b, err := r.Next()
	if err != nil || len(b) != 3 {
		t.Fatal(b, err)
	}
	if r.Buffered() != 4+5+4+7 {
		t.Fatalf("Buffered = %d", r.Buffered())
	}
	if cap(b) != len(b) {
		t.Fatalf("body capacity %d leaks into the next frame", cap(b))
	}
}

func TestReaderTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream []byte
		max    int
		frames int
	}{
		{"first frame", binary.BigEndian.AppendUint32(nil, 101), 100, 0},
		{"after good frames", append(func() []byte { s, _ := testStream(100, 0, 1); return s }(), 0, 0, 0, 101), 100, 3},
		{"huge prefix", []byte{0xff, 0xff, 0xff, 0xff}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(iotest.OneByteReader(bytes.NewReader(tc.stream)), 0, tc.max)
			got, err := readAll(t, r, 10)
			if len(got) != tc.frames {
				t.Fatalf("%d frames before the error, want %d", len(got), tc.frames)
			}
			var fe *FrameTooLargeError
			if !errors.Is(err, ErrFrameTooLarge) || !errors.As(err, &fe) {
				t.Fatalf("err = %v", err)
			}
			wantMax := uint64(tc.max)
			if tc.max == 0 {
				wantMax = DefaultMaxFrame
			}
			wantSize := uint64(binary.BigEndian.Uint32(tc.stream[len(tc.stream)-4:]))
			if fe.Size != wantSize || fe.Max != wantMax {
				t.Fatalf("err = %+v, want size %d max %d", fe, wantSize, wantMax)
			}
			if _, err2 := r.Next(); err2 != err {
				t.Fatalf("error not sticky: %v", err2)
			}
		})
	}
	// Exactly max is fine, and the buffer grows to it.
	stream, want := testStream(1000, 10)
	r := NewReader(bytes.NewReader(stream), 64, 1000)
	got, err := readAll(t, r, 10)
	if err != io.EOF {
		t.Fatal(err)
	}
	checkFrames(t, got, want)
	if len(r.buf) != 1004 {
		t.Fatalf("buffer grew to %d, want 1004 (capped)", len(r.buf))
	}
}

func TestReaderTruncated(t *testing.T) {
	stream, _ := testStream(10, 20)
	for cut := 1; cut < len(stream); cut++ {
		if cut == 14 { // a frame boundary
			continue
		}
		r := NewReader(bytes.NewReader(stream[:cut]), 0, 0)
		_, err := readAll(t, r, 10)
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: err = %v, want io.ErrUnexpectedEOF", cut, err)
		}
		if _, err := r.Next(); err != io.ErrUnexpectedEOF {
			t.Fatalf("cut at %d: second err = %v", cut, err)
		}
	}
	r := NewReader(bytes.NewReader(stream[:14]), 0, 0)
	if got, err := readAll(t, r, 10); err != io.EOF || len(got) != 1 {
		t.Fatalf("boundary: %d frames, %v", len(got), err)
	}
}

func TestReaderEmptyStream(t *testing.T) {
	r := NewReader(bytes.NewReader(nil), 0, 0)
	if b, err := r.Next(); err != io.EOF || b != nil {
		t.Fatalf("Next = %q, %v", b, err)
	}
}

func TestReaderReadError(t *testing.T) {
	stream, want := testStream(5, 6)
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(bytes.NewReader(stream), iotest.ErrReader(boom)), 0, 0)
	got, err := readAll(t, r, 10)
	if err != boom {
		t.Fatalf("err = %v", err)
	}
	checkFrames(t, got, want)
	// Partial frame then error: the error, not io.ErrUnexpectedEOF.
	r = NewReader(io.MultiReader(bytes.NewReader(stream[:7]), iotest.ErrReader(boom)), 0, 0)
	if _, err := readAll(t, r, 10); err != boom {
		t.Fatalf("err = %v", err)
	}
	// A data-and-error read still delivers the data first.
	r = NewReader(iotest.TimeoutReader(iotest.DataErrReader(bytes.NewReader(stream))), 0, 0)
	got, err = readAll(t, r, 10)
	if err != iotest.ErrTimeout && err != io.EOF {
		t.Fatalf("err = %v", err)
	}
	if len(got) < 1 {
		t.Fatalf("got %d frames", len(got))
	}
}

type zeroReader struct{ calls int }

func (z *zeroReader) Read([]byte) (int, error) { z.calls++; return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	z := &zeroReader{}
	r := NewReader(z, 0, 0)
	if _, err := r.Next(); err != io.ErrNoProgress {
		t.Fatalf("err = %v", err)
	}
	if z.calls != maxEmptyReads {
		t.Fatalf("%d calls", z.calls)
	}
}

type badReader struct{}

func (badReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

func TestReaderBrokenReader(t *testing.T) {
	r := NewReader(badReader{}, 0, 0)
	if _, err := r.Next(); err == nil {
		t.Fatal("no error from a reader that over-reports")
	}
}

func TestReaderReset(t *testing.T) {
	stream, want := testStream(5, 6)
	r := NewReader(bytes.NewReader(stream[:7]), 0, 0)
	if _, err := readAll(t, r, 10); err != io.ErrUnexpectedEOF {
		t.Fatal(err)
	}
	r.Reset(bytes.NewReader(stream))
	got, err := readAll(t, r, 10)
	if err != io.EOF {
		t.Fatal(err)
	}
	checkFrames(t, got, want)
}

// Frames produced by the encoders read back and parse.
func TestReaderWithEncoders(t *testing.T) {
	var stream []byte
	stream, _ = AppendLogon(stream, &exampleLogon)
	for i := range 50 {
		stream, _ = AppendPublish(stream, &Publish{Topic: "orders", Seq: uint64(i + 1), Ack: AckPersisted}, []byte(`{"id":1}`))
	}
	stream = AppendHeartbeatBeat(stream)
	r := NewReader(iotest.HalfReader(bytes.NewReader(stream)), 100, 1<<10)
	var h Header
	for i := range 52 {
		b, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if _, err := h.Parse(b); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if i >= 1 && i <= 50 && (h.Command != CmdPublish || h.Seq != uint64(i)) {
			t.Fatalf("frame %d: %+v", i, h)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatal(err)
	}
}

// With SetShrink, after one large frame the Reader goes back to its initial
// buffer: the large one is not kept for the life of the stream.
func TestReaderShrinksAfterALargeFrame(t *testing.T) {
	stream, bodies := testStream(10, 1<<20, 20, 30, 2<<20, 5)
	r := NewReader(&chunkReader{data: stream, sizes: []int{4000, 100, 3000}}, 4096, 4<<20)
	r.SetShrink(true)
	for i, want := range bodies {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(got), len(want))
		}
		if len(want) < 4096 && r.BufferSize() != 4096 {
			t.Fatalf("after frame %d (%d bytes), the buffer is %d bytes, want the initial 4096", i, len(want), r.BufferSize())
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("end: %v, want io.EOF", err)
	}
	if r.BufferSize() != 4096 {
		t.Fatalf("at the end the buffer is %d bytes, want 4096", r.BufferSize())
	}
}

// Without SetShrink the grown buffer stays: a stream of large frames does not
// allocate per frame.
func TestReaderKeepsGrownBufferByDefault(t *testing.T) {
	stream, _ := testStream(1<<20, 20, 1<<20)
	r := NewReader(&chunkReader{data: stream, sizes: []int{4000}}, 4096, 4<<20)
	for i := 0; i < 2; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if r.BufferSize() < 1<<20 {
		t.Fatalf("buffer %d bytes after a large frame, want the grown one kept", r.BufferSize())
	}
}
