package frame

import (
	"bytes"
	"strconv"
	"testing"
)

func BenchmarkAppendPublish(b *testing.B) {
	for _, size := range []int{32, 128, 1024} {
		payload := bytes.Repeat([]byte("x"), size)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			h := &Publish{Topic: "orders", Ack: AckPersisted, Seq: 1795626088478000001}
			dst := make([]byte, 0, 4096)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				dst, _ = AppendPublish(dst[:0], h, payload)
				h.Seq++
			}
		})
	}
	b.Run("minimal/128", func(b *testing.B) {
		payload := bytes.Repeat([]byte("x"), 128)
		h := &Publish{Topic: "orders"}
		dst := make([]byte, 0, 4096)
		b.ReportAllocs()
		b.SetBytes(128)
		for b.Loop() {
			dst, _ = AppendPublish(dst[:0], h, payload)
		}
	})
	b.Run("all-fields/128", func(b *testing.B) {
		payload := bytes.Repeat([]byte("x"), 128)
		h := &Publish{Topic: "orders", CommandID: "auto12345", Ack: AckProcessed | AckPersisted,
			Expiration: 30, CorrelationID: "Y29ycmVsYXRpb24=", SowKey: "k-1", Seq: 1795626088478000001}
		dst := make([]byte, 0, 4096)
		b.ReportAllocs()
		b.SetBytes(128)
		for b.Loop() {
			dst, _ = AppendPublish(dst[:0], h, payload)
		}
	})
}

func BenchmarkAppendPublishString(b *testing.B) {
	payload := string(bytes.Repeat([]byte("x"), 128))
	h := &Publish{Topic: "orders", Ack: AckPersisted, Seq: 1795626088478000001}
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendPublishString(dst[:0], h, payload)
	}
}

func BenchmarkPublishLen(b *testing.B) {
	h := &Publish{Topic: "orders", Ack: AckPersisted, Seq: 1795626088478000001}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		l, _ := PublishLen(h, 128)
		n += l
	}
	_ = n
}

func BenchmarkAppendLogon(b *testing.B) {
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = AppendLogon(dst[:0], &exampleLogon)
	}
}

func BenchmarkHeaderParse(b *testing.B) {
	for _, c := range []struct{ name, in string }{
		{"publish", `{"c":"p","t":"orders","a":"persisted","s":43}{"id":1}`},
		{"persisted-ack", `{"c":"ack","a":"persisted","s":1795626088478000001,"status":"success"}`},
		{"logon-ack", `{"c":"ack","cid":"1","a":"processed","status":"success","client_name":"pub-1","s":42,"bm":"5934099655320710513|42|","version":"5.3.4.0"}`},
		{"escapes", `{"c":"p","t":"a\"b\\c","cid":"\\\\","s":"43"}x`},
	} {
		b.Run(c.name, func(b *testing.B) {
			src := []byte(c.in)
			buf := make([]byte, len(src))
			var h Header
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				copy(buf, src) // Parse unescapes in place
				if _, err := h.Parse(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReader(b *testing.B) {
	for _, size := range []int{128, 4096} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			var stream []byte
			for range 64 {
				stream, _ = AppendPublish(stream, &Publish{Topic: "orders", Seq: 1}, make([]byte, size))
			}
			r := NewReader(&benchLoopReader{data: stream}, 0, 0)
			b.ReportAllocs()
			b.SetBytes(int64(len(stream) / 64))
			for b.Loop() {
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchLoopReader serves data over and over (allocation_test.go's loopReader is !race only).
type benchLoopReader struct {
	data []byte
	off  int
}

func (l *benchLoopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}
