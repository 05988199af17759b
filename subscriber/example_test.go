package subscriber_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/subscriber"
)

// A verifier subscribes, a publisher publishes, the verifier reads what arrived.
func Example() {
	s, err := ampstest.StartTCP(ampstest.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	sub, err := subscriber.Dial(ctx, s.URI("json"), "verifier")
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	subID, err := sub.Subscribe(ctx, "orders")
	if err != nil {
		panic(err)
	}

	pub, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		panic(err)
	}
	defer pub.Close()
	out, _ := frame.AppendLogon(nil, &frame.Logon{ClientName: "pub-1"})
	out, _ = frame.AppendPublishString(out, &frame.Publish{Topic: "orders", Seq: 43}, `{"id":1}`)
	pub.Write(out)

	m, err := sub.Next(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(subID, string(m.Topic), string(m.SubID), string(m.Bookmark), string(m.Payload))
	// Output: sub-1 orders sub-1 3084015820777091662|43| {"id":1}
}
