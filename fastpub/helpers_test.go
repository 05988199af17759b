package fastpub_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

// startServer starts a test server on 127.0.0.1:0, closed with the test.
func startServer(t testing.TB, cfg ampstest.Config) *ampstest.Server {
	t.Helper()
	s, err := ampstest.StartTCP(cfg)
	if err != nil {
		t.Fatalf("StartTCP: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ctxT returns a context that ends after d or with the test.
func ctxT(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// connect returns a logged-on client named name, closed with the test.
func connect(t testing.TB, uri, name string, opts ...fastpub.Option) *fastpub.Client {
	t.Helper()
	c, err := fastpub.NewClient(name, opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	ctx := ctxT(t, 10*time.Second)
	if err := c.Connect(ctx, uri); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if err := c.Logon(ctx); err != nil {
		t.Fatalf("Logon: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// checkNoLeak fails the test if the number of goroutines does not come back
// to base within a few seconds.
func checkNoLeak(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d, want <= %d\n%s", n, base, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
