package bench

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/ring"
)

var sizes = []int{32, 128, 1024}

// BenchmarkSideBySide is the headline figure. For each payload size, in the
// same run: (a) the ceiling, pre-encoded frames written contiguously over
// loopback TCP to a reader that discards them; (b) fastpub with one producer
// publishing to the test server's discard path; and at 128 B (c) fastpub
// with 4 producers. It reports each rate, the ratios b/a and c/b, GC cycles
// and frames per write system call. ns/op and allocs/op are fastpub's (the
// ceiling runs with the timer stopped, once before and once after fastpub;
// the faster of the two is the ceiling).
//
//	go test -run '^$' -bench SideBySide -benchtime 2000000x -count 5 ./bench/
func BenchmarkSideBySide(b *testing.B) {
	for _, size := range sizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			sideBySide(b, size, size == 128)
		})
	}
}

func sideBySide(b *testing.B, size int, four bool) {
	b.ReportAllocs()
	b.StopTimer()
	// The ceiling runs before and after fastpub and the faster run counts:
	// drift on a shared machine then cannot flatter the ratio.
	before, err := Ceiling("orders", size, b.N)
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	r, err := Publish("orders", size, b.N, 1)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	after, err := Ceiling("orders", size, b.N)
	if err != nil {
		b.Fatal(err)
	}
	ceilRate := float64(b.N) / min(before, after).Seconds()
	b.ReportMetric(ceilRate, "ceiling-msgs/s")
	b.ReportMetric(r.Rate(), "msgs/s")
	b.ReportMetric(r.Rate()/ceilRate, "ratio-b/a")
	b.ReportMetric(float64(r.GCs), "GCs")
	b.ReportMetric(float64(r.Frames)/float64(max(r.Writes, 1)), "frames/write")
	if four {
		r4, err := Publish("orders", size, b.N, 4)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r4.Rate(), "4p-msgs/s")
		b.ReportMetric(r4.Rate()/r.Rate(), "ratio-c/b")
		b.ReportMetric(float64(r4.GCs), "4p-GCs")
	}
}

// BenchmarkCeiling is the ceiling alone: pre-encoded frames, contiguous
// writes of 4096 frames, a reader that discards.
func BenchmarkCeiling(b *testing.B) {
	for _, size := range sizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			d, err := Ceiling("orders", size, b.N)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/d.Seconds(), "msgs/s")
		})
	}
}

// BenchmarkPublish is fastpub end to end over loopback TCP to the test
// server's discard path, with 1 and 4 producers on one client.
func BenchmarkPublish(b *testing.B) {
	for _, producers := range []int{1, 4} {
		for _, size := range sizes {
			b.Run(fmt.Sprintf("producers=%d/%dB", producers, size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				r, err := Publish("orders", size, b.N, producers)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.Rate(), "msgs/s")
				b.ReportMetric(float64(r.GCs), "GCs")
			})
		}
	}
}

// BenchmarkEncode is the frame encoder alone: PublishLen then AppendPublish
// into a reused buffer, as the client does per publish.
func BenchmarkEncode(b *testing.B) {
	for _, size := range sizes {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			payload := Payload(size)
			h := frame.Publish{Command: frame.CmdPublish, Topic: "orders"}
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				n, err := frame.PublishLen(&h, len(payload))
				if err != nil {
					b.Fatal(err)
				}
				buf, _ = frame.AppendPublish(buf[:0:n], &h, payload)
			}
		})
	}
}

// BenchmarkRing is the send ring alone: producers claim, encode a 128-byte
// payload frame and commit, while one consumer drains with Wait, Peek and
// Release (no socket).
func BenchmarkRing(b *testing.B) {
	for _, producers := range []int{1, 4} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			r, err := ring.New(ring.Config{})
			if err != nil {
				b.Fatal(err)
			}
			payload := Payload(128)
			h := frame.Publish{Command: frame.CmdPublish, Topic: "orders"}
			n, _ := frame.PublishLen(&h, len(payload))
			done := make(chan struct{})
			go func() {
				defer close(done)
				iov := make([][]byte, 0, 1024)
				for r.Wait(nil) == nil {
					var m int
					iov, m = r.Peek(iov[:0])
					r.Release(m)
				}
			}()
			b.ReportAllocs()
			b.SetBytes(int64(n))
			b.ResetTimer()
			var wg sync.WaitGroup
			ctx := context.Background()
			for p := 0; p < producers; p++ {
				count := b.N / producers
				if p < b.N%producers {
					count++
				}
				wg.Add(1)
				go func(count int) {
					defer wg.Done()
					var c ring.Claim
					for i := 0; i < count; i++ {
						if err := r.ClaimInto(ctx, &c, n); err != nil {
							panic(err)
						}
						frame.AppendPublish(c.Buf[:0], &h, payload)
						r.Commit(&c)
					}
				}(count)
			}
			wg.Wait()
			r.Close()
			<-done
		})
	}
}
