package connstr_test

import (
	"testing"

	"github.com/fastpub/fastpub/connstr"
)

func BenchmarkParse(b *testing.B) {
	const s = "tcp://publisher:s3cret@amps.example.com:9007/amps/json?tcp_nodelay=false&tcp_sndbuf=1048576&tcp_linger=5&bind=10.0.0.1"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := connstr.Parse(s); err != nil {
			b.Fatal(err)
		}
	}
}
