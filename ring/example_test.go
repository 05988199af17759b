package ring_test

import (
	"context"
	"fmt"

	"github.com/fastpub/fastpub/ring"
)

// A producer claims, fills and commits frames; the writer waits, peeks the
// committed stream as a few slices (what it would pass to writev) and
// releases what it wrote.
func Example() {
	r, err := ring.New(ring.Config{Size: 4096, MaxInline: 16})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, msg := range []string{"hello ", "big frame goes out of line ", "world"} {
		var c ring.Claim
		if err := r.ClaimInto(ctx, &c, len(msg)); err != nil {
			panic(err)
		}
		copy(c.Buf, msg)
		r.Commit(&c)
	}

	if err := r.Wait(nil); err != nil {
		panic(err)
	}
	iov, n := r.Peek(make([][]byte, 0, 16))
	for _, b := range iov {
		fmt.Printf("%q\n", b)
	}
	r.Release(n)
	fmt.Println(n, r.Released(), r.Len())
	// Output:
	// "hello "
	// "big frame goes out of line "
	// "world"
	// 38 38 0
}

// Close stops the producers; the writer drains what was committed and then
// Wait reports ErrClosed.
func ExampleRing_Close() {
	r, _ := ring.New(ring.Config{})
	c, _ := r.TryClaim(3)
	copy(c.Buf, "bye")
	r.Commit(&c)
	r.Close()

	_, err := r.TryClaim(1)
	fmt.Println(err)
	for r.Wait(nil) == nil {
		iov, n := r.Peek(make([][]byte, 0, 4))
		fmt.Printf("%s\n", iov[0])
		r.Release(n)
	}
	fmt.Println(r.Wait(nil))
	// Output:
	// ring: closed
	// bye
	// ring: closed
}
