package ampstest_test

import (
	"fmt"
	"net"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/frame"
)

// A test starts a server, speaks to it, and reads its counters.
func ExampleStartTCP() {
	s, err := ampstest.StartTCP(ampstest.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()

	nc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	out, _ := frame.AppendLogon(nil, &frame.Logon{CommandID: "1", ClientName: "pub-1", Ack: frame.AckProcessed})
	out, _ = frame.AppendPublishString(out, &frame.Publish{Topic: "orders", Seq: 43}, `{"id":1}`)
	out, _ = frame.AppendFlush(out, &frame.Flush{CommandID: "2", Ack: frame.AckProcessed})
	nc.Write(out)

	rd := frame.NewReader(nc, 0, 0)
	for i := 0; i < 2; i++ {
		body, err := rd.Next()
		if err != nil {
			panic(err)
		}
		fmt.Println(string(body))
	}
	fmt.Println(s.Stats().Publishes, s.LastSequence("pub-1"))
	// Output:
	// {"c":"ack","cid":"1","a":"processed","status":"success","client_name":"pub-1","s":0,"bm":"3084015820777091662|0|","version":"5.3.4.0"}
	// {"c":"ack","cid":"2","a":"processed","status":"success"}
	// 1 43
}
