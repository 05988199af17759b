package frame

import (
	"bytes"
	"errors"
	"testing"
)

// AppendPublishHeader plus the payload plus SetLength is AppendPublish.
func TestAppendPublishHeaderMatchesAppendPublish(t *testing.T) {
	cases := []Publish{
		{Topic: "orders"},
		{Command: CmdDeltaPublish, Topic: `q"u\\ote`, CommandID: "c1", Ack: AckProcessed | AckPersisted},
		{Topic: "t", HasExpiration: true, CorrelationID: "x", SowKey: "k", Seq: 1795626088478000001},
	}
	payload := []byte(`{"id":1}`)
	for _, h := range cases {
		want, err := AppendPublish(nil, &h, payload)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendPublishHeader(nil, &h)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, payload...)
		SetLength(got)
		if !bytes.Equal(got, want) {
			t.Errorf("header path %q, AppendPublish %q", got, want)
		}
	}
	dst := []byte("keep")
	out, err := AppendPublishHeader(dst, &Publish{Topic: "bad\n"})
	if !errors.Is(err, ErrInvalidValue) || string(out) != "keep" {
		t.Fatalf("invalid topic: %q, %v", out, err)
	}
}
