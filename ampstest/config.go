package ampstest

import (
	"time"

	"github.com/fastpub/fastpub/frame"
)

// Defaults used for zero Config fields.
const (
	DefaultVersion           = "5.3.4.0"             // Config.Version
	DefaultDuplicateStatus   = "success"             // Config.DuplicateStatus
	DefaultReadBufferSize    = 512 << 10             // Config.ReadBufferSize
	DefaultMaxOutbound       = 4 << 20               // Config.MaxOutbound
	DefaultConflatedInterval = time.Second           // Conflated.Interval
	DefaultMaxFrame          = frame.DefaultMaxFrame // Config.MaxFrame
)

// gracefulTimeout bounds how long a connection closed by the server (protocol error, logon
// failure, client EOF) keeps trying to write the frames queued before the close.
const gracefulTimeout = 2 * time.Second

// Config configures a Server. The zero value is valid: accept-all auth, 64 MiB frames,
// immediate persisted acks, duplicates reported with status "success", version "5.3.4.0".
type Config struct {
	// Auth selects how logons are authenticated. Default (nil): AcceptAll.
	Auth Auth

	// MaxFrame is the largest frame body (bytes after the 4-byte prefix) accepted; a larger
	// length prefix closes the connection. Default (0): frame.DefaultMaxFrame (64 MiB).
	MaxFrame int

	// Persisted selects when persisted acks are sent. Default (nil): Immediate.
	Persisted PersistMode

	// DuplicateStatus is the status of the persisted and processed acks that report a
	// duplicate publish (reason "duplicate"). amps-protocol.md §9.2 leaves open whether a real
	// server says "success" or "failure". Default (""): "success".
	DuplicateStatus string

	// Version is the server version sent in the logon ack. Default (""): "5.3.4.0".
	Version string

	// ReadBufferSize is the size of each connection's read buffer; it grows to the largest
	// frame seen. Default (0): 512 KiB.
	ReadBufferSize int

	// MaxOutbound is the number of queued outbound bytes per connection at which producers
	// (deliveries, acks) block until the connection's writer drains them. Default (0): 4 MiB.
	MaxOutbound int

	// State, if set, is shared with every other Server created with the same State: a
	// replicated group (see State). Default (nil): the server gets a State of its own.
	State *State

	// Logf, if set, receives one line per connection close (with the reason) and per
	// unexpected internal condition. It never receives header contents, so never a password.
	Logf func(format string, args ...any)
}

// Auth is an authentication mode: AcceptAll, Password or Challenge.
type Auth interface{ isAuth() }

// AcceptAll accepts every logon, whatever its user_id and pw.
type AcceptAll struct{}

// Password accepts only the logon whose user_id is User and pw is Password; any other logon
// gets a failure ack with reason "auth failure" and its connection is closed.
type Password struct {
	User     string
	Password string
}

// Challenge answers the first logon of a connection with status "retry", user_id User and
// pw Token (whatever that logon carried). The next logon on the same connection succeeds if
// its user_id is User and its pw is Answer; otherwise it fails with "auth failure" and the
// connection is closed. Each retry ack echoes the cid of the logon it answers, so clients that
// send a new cid per attempt (JS) and clients that reuse it (C++) both work.
type Challenge struct {
	User   string
	Token  string
	Answer string
}

func (AcceptAll) isAuth() {}
func (Password) isAuth()  {}
func (Challenge) isAuth() {}

// PersistMode selects when persisted acks are sent: Immediate or Conflated.
type PersistMode interface{ isPersist() }

// Immediate sends one persisted ack per publish that requested it, right after the publish is
// processed: {"c":"ack","a":"persisted","status":"success","s":N,"bm":"H|N|"} (no cid).
type Immediate struct{}

// Conflated mimics a transaction log: per connection, successful persisted acks are merged and
// the highest sequence is sent at most once per Interval (timed from the first unacked
// publish). A failure or duplicate first forces out the pending success (covering every
// earlier sequence) and is then reported on its own, so publishing 1..5 with 3 rejected gives
// success s=2, failure s=3, success s=5 (amps-protocol.md §4.2).
type Conflated struct {
	Interval time.Duration // default (0): 1 s
}

func (Immediate) isPersist() {}
func (Conflated) isPersist() {}

// settings is a validated Config.
type settings struct {
	Config
	conflate time.Duration // 0 = immediate
}

func normalize(cfg Config) settings {
	s := settings{Config: cfg}
	if s.Auth == nil {
		s.Auth = AcceptAll{}
	}
	if s.MaxFrame <= 0 {
		s.MaxFrame = DefaultMaxFrame
	}
	if s.Persisted == nil {
		s.Persisted = Immediate{}
	}
	if c, ok := s.Persisted.(Conflated); ok {
		s.conflate = c.Interval
		if s.conflate <= 0 {
			s.conflate = DefaultConflatedInterval
		}
	}
	if s.DuplicateStatus == "" {
		s.DuplicateStatus = DefaultDuplicateStatus
	}
	if s.Version == "" {
		s.Version = DefaultVersion
	}
	if s.ReadBufferSize <= 0 {
		s.ReadBufferSize = DefaultReadBufferSize
	}
	if s.MaxOutbound <= 0 {
		s.MaxOutbound = DefaultMaxOutbound
	}
	return s
}
