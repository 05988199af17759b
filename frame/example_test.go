package frame_test

import (
	"bytes"
	"fmt"

	"github.com/fastpub/fastpub/frame"
)

func ExampleAppendPublish() {
	h := &frame.Publish{Topic: "orders", Ack: frame.AckPersisted, Seq: 43}
	payload := []byte(`{"id":1}`)

	n, err := frame.PublishLen(h, len(payload))
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 0, n) // exact: AppendPublish does not allocate
	buf, err = frame.AppendPublish(buf, h, payload)
	if err != nil {
		panic(err)
	}
	fmt.Println(n, len(buf))
	fmt.Printf("%q\n", buf)
	// Output:
	// 57 57
	// "\x00\x00\x005{\"c\":\"p\",\"t\":\"orders\",\"a\":\"persisted\",\"s\":43}{\"id\":1}"
}

func ExampleHeader_Parse() {
	body := []byte(`{"c":"ack","a":"persisted","s":43,"status":"success"}`)
	var h frame.Header
	payload, err := h.Parse(body)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Command, h.Ack, h.Seq, string(h.Status), len(payload))
	// Output: ack persisted 43 success 0
}

func ExampleReader() {
	var stream []byte
	stream = frame.AppendHeartbeatStart(stream, 5)
	stream = frame.AppendHeartbeatBeat(stream)
	r := frame.NewReader(bytes.NewReader(stream), 0, 0)
	for {
		body, err := r.Next()
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Printf("%s\n", body)
	}
	// Output:
	// {"c":"heartbeat","o":"start,5"}
	// {"c":"heartbeat","o":"beat"}
	// EOF
}
