package fastpub_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/fastpub"
)

// The AMPS Python client's first program, in Go, against the in-process test
// server: connect, log on, publish one message, flush, close.
func Example() {
	server, err := ampstest.StartTCP(ampstest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	uri := server.URI("json") // tcp://127.0.0.1:<port>/amps/json

	client, err := fastpub.NewClient("examplePublisher")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Connect(ctx, uri); err != nil {
		log.Fatal(err)
	}
	if err := client.Logon(ctx); err != nil {
		log.Fatal(err)
	}
	if err := client.PublishString("messages", `{ "hi" : "Hello, world!"}`); err != nil {
		log.Fatal(err)
	}
	// Wait until the server has processed everything published so far; the
	// context is the timeout.
	if err := client.PublishFlush(ctx); err != nil {
		log.Fatal(err)
	}
	if err := client.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("published:", server.Stats().PerTopic["messages"].Publishes)
	// Output: published: 1
}

// Per-message headers (expiration, correlation id, SOW key, delta) go in a
// Message, which costs no allocation when it lives on the stack.
func ExampleClient_PublishMessage() {
	server, _ := ampstest.StartTCP(ampstest.Config{})
	defer server.Close()
	ctx := context.Background()
	client, _ := fastpub.NewClient("tick-publisher")
	defer client.Close()
	client.Connect(ctx, server.URI("json"))
	client.Logon(ctx)

	m := fastpub.Message{
		Topic:         "ticks",
		DataString:    `{"sym":"MSFT","px":415.2}`,
		Expiration:    30 * time.Second,
		CorrelationID: "feed-7",
	}
	err := client.PublishMessage(ctx, &m)
	fmt.Println(err, client.PublishFlush(ctx))
	// Output: <nil> <nil>
}

// Errors match sentinels with errors.Is; a refused logon carries the
// server's reason.
func ExampleServerError() {
	server, _ := ampstest.StartTCP(ampstest.Config{Auth: ampstest.Password{User: "alice", Password: "secret"}})
	defer server.Close()
	ctx := context.Background()
	client, _ := fastpub.NewClient("pub-1")
	defer client.Close()
	client.Connect(ctx, "tcp://alice:wrong@"+server.Addr().String()+"/amps/json")
	err := client.Logon(ctx)
	var se *fastpub.ServerError
	fmt.Println(errors.Is(err, fastpub.ErrAuthentication), errors.As(err, &se) && se.Reason == "auth failure")
	// Output: true true
}
