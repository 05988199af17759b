// Package fastpub is a publishing client for AMPS (60East's Advanced Message
// Processing System) that puts messages on the socket as fast as the kernel
// takes them, with no allocation per publish.
//
// The first program, in Go (the AMPS Python client's first chapter):
//
//	client, err := fastpub.NewClient("examplePublisher")
//	...
//	err = client.Connect(ctx, "tcp://127.0.0.1:9007/amps/json")
//	err = client.Logon(ctx)
//	err = client.PublishString("messages", `{ "hi" : "Hello, world!"}`)
//	err = client.PublishFlush(ctx)
//	err = client.Close()
//
// # The publish path
//
// Publish encodes its frame (4-byte length, compact JSON header, payload)
// straight into a range of bytes claimed in the client's send ring
// (package ring), a lock-free multi-producer arena of fixed size, and commits
// it. One writer goroutine per connection takes the committed bytes, in order,
// as one or two large slices, and hands them to the kernel with one writev;
// under load each writev carries every frame committed while the previous one
// ran. One reader goroutine handles acks and server heartbeats.
//
// # Backpressure and memory
//
// The ring is the client's whole send buffer (WithBufferSize, 4 MiB by
// default); memory does not grow with the number of messages. When it is
// full, Publish blocks until the writer has made room, PublishContext blocks
// while its context lasts, and TryPublish returns ErrBufferFull at once.
//
// # What a nil from Publish promises
//
// Without a store: the frame is queued in the send buffer. The writer sends
// it; a disconnect loses what the kernel had taken and the server had not
// read, and a reconnect sends what was still queued.
//
// With a store (WithStore, package store): the message is kept until the
// server has persisted it. It carries a sequence number and asks for a
// persisted ack; after a disconnect (WithReconnect does it by itself,
// otherwise Connect and Logon again) everything the server has not
// persisted is sent again, in order, before any new message, and the server
// drops what it already has: each message is delivered exactly once. A
// refused message reaches the failed-write handler; a server that lost
// acknowledged messages is a *PublishGapError, one that holds sequences this
// client never sent a *SequenceAheadError. PublishFlush returns once
// everything before it is persisted. While the server is away publishes keep
// succeeding into the store until its bound, then block.
//
// Handlers (WithEventHandler, WithFailedWriteHandler, WithErrorHandler) run
// in order on a goroutine of the client's own, never on the reader or the
// writer: every method of the client is safe inside them.
//
// # Errors
//
// Every error matches a sentinel with errors.Is (ErrInvalidURI,
// ErrAuthentication, ErrNameInUse, ErrNotEntitled, ErrInvalidTopic,
// ErrTimedOut, ErrDisconnected, ErrMessageTooLarge, ErrBufferFull, ...).
// Transport failures are *ConnectionError values that unwrap to the operating
// system's error (errors.As reaches *net.OpError and syscall.Errno). Server
// refusals are *ServerError values carrying the server's reason. Options out
// of range are *OptionError values (ErrInvalidValue). Passwords never appear
// in errors: URIs in errors are redacted, and so is the password's text
// wherever it occurs in a *ConnectionError's text, its cause's included.
//
// # Connection strings
//
// tcp://[user[:password]@]host:port/amps/<message type>[?options], tcps://
// for TLS, unix://... with ?path=. Every transport option of the official
// clients is applied to the socket (package connstr lists them with their
// defaults; package sockopt applies them).
package fastpub
