package ampstest

import "errors"

// ErrServerClosed is returned by Listen (and by the convenience starters) after Close.
var ErrServerClosed = errors.New("ampstest: server closed")

// ErrServerStopped is returned by Listen between Stop and Start.
var ErrServerStopped = errors.New("ampstest: server stopped")

// CloseReason says why the server closed a connection; Stats.Closes counts them.
type CloseReason string

// Close reasons.
const (
	CloseEOF              CloseReason = "eof"                // the client closed its side at a frame boundary
	CloseTruncated        CloseReason = "truncated frame"    // the stream ended inside a frame
	CloseReadError        CloseReason = "read error"         // any other read error (reset, ...)
	CloseWriteError       CloseReason = "write error"        // a write failed or timed out
	CloseMalformedHeader  CloseReason = "malformed header"   // Header.Parse failed, no "c", or an unknown ack word
	CloseFrameTooLarge    CloseReason = "frame too large"    // length prefix above Config.MaxFrame
	CloseLogonRequired    CloseReason = "logon required"     // a command before a successful logon
	CloseAuthFailure      CloseReason = "auth failure"       // wrong credentials
	CloseNameInUse        CloseReason = "name in use"        // client name held by another user
	CloseNoClientName     CloseReason = "no client name"     // logon without client_name
	CloseReplaced         CloseReason = "replaced"           // same name and user logged on again elsewhere
	CloseHeartbeatTimeout CloseReason = "heartbeat timeout"  // no inbound traffic for 2N s after heartbeat start,N
	CloseHook             CloseReason = "close after frames" // the CloseAfterFrames hook fired
	CloseDropped          CloseReason = "dropped"            // DropClient
	CloseServerClosed     CloseReason = "server closed"      // Server.Close
	CloseServerStopped    CloseReason = "server stopped"     // Server.Stop or Restart
	CloseKilled           CloseReason = "killed"             // the KillPublishers hook fired
)

// Reason strings sent in failure acks (amps-protocol.md §6; exact spellings matter).
const (
	reasonAuthFailure   = "auth failure"
	reasonNameInUse     = "name in use"
	reasonDupLogon      = "duplicate logon attempt"
	reasonLogonRequired = "logon required"
	reasonNotEntitled   = "not entitled"
	reasonDuplicate     = "duplicate"
	reasonInvalidTopic  = "invalid topic"
	reasonInvalidOpts   = "invalid options"
	reasonNoClientName  = "no client name"
	reasonNoTopic       = "no topic or filter"
	reasonInvalidSubID  = "invalid subid"
	reasonSubIDInUse    = "subid in use"
	reasonNotSupported  = "not supported"
)

const (
	statusSuccess = "success"
	statusFailure = "failure"
	statusRetry   = "retry"
)
