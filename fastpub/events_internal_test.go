package fastpub

import "testing"

// goroutineID reads an id, the same for one goroutine each time and
// different for another: the dispatcher's test for "Close is called from
// a handler" depends on it.
func TestGoroutineID(t *testing.T) {
	a, b := goroutineID(), goroutineID()
	other := make(chan uint64)
	go func() { other <- goroutineID() }()
	o := <-other
	if a == 0 || a != b || o == 0 || o == a {
		t.Fatalf("goroutineID: %d and %d here, %d on another goroutine", a, b, o)
	}
}
