package sockopt

import (
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Sentinel errors. Every error returned by this package for a bad argument is
// an *OptionError wrapping one of them; errors from the kernel are
// *os.SyscallError values (wrapped in an *OptionError when they come from
// Options.Control or Options.ApplyConnected).
var (
	// ErrInvalidValue reports an option value outside its valid range
	// (negative or oversized buffer, negative linger, unknown Toggle).
	ErrInvalidValue = errors.New("sockopt: invalid option value")
	// ErrInvalidBind reports a bind address that is not a numeric IP address
	// with an optional port in one of the accepted forms (see ParseBind), or
	// whose family does not match the socket.
	ErrInvalidBind = errors.New("sockopt: invalid bind address")
	// ErrNotApplicable reports an option that does not apply to the socket
	// (a bind address on a unix socket, an unknown network).
	ErrNotApplicable = errors.New("sockopt: option does not apply to this socket")
)

// OptionError reports an option that could not be validated or applied.
type OptionError struct {
	Option string // "TCP_NODELAY", "SO_SNDBUF", "SO_RCVBUF", "SO_LINGER", "SO_KEEPALIVE", "bind" or "network"
	Value  string // the value as given
	Reason string // human-readable detail; may be empty
	Err    error  // ErrInvalidValue, ErrInvalidBind, ErrNotApplicable or an *os.SyscallError
}

func (e *OptionError) Error() string {
	var b strings.Builder
	b.WriteString("sockopt: ")
	b.WriteString(e.Option)
	if e.Value != "" {
		b.WriteString("=")
		b.WriteString(strconv.Quote(e.Value))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "sockopt: "))
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	return b.String()
}

// Unwrap returns the sentinel or the *os.SyscallError.
func (e *OptionError) Unwrap() error { return e.Err }

// Toggle is an option left at its default or set on/off.
type Toggle uint8

const (
	Default Toggle = iota // leave the documented default of the option
	On                    // force the option on
	Off                   // force the option off
)

// String returns "default", "on", "off" or "Toggle(N)".
func (t Toggle) String() string {
	switch t {
	case Default:
		return "default"
	case On:
		return "on"
	case Off:
		return "off"
	}
	return "Toggle(" + strconv.Itoa(int(t)) + ")"
}

// enabled resolves the toggle against the option's default.
func (t Toggle) enabled(def bool) bool {
	switch t {
	case On:
		return true
	case Off:
		return false
	}
	return def
}

// Options is the set of transport options of a connection string. The zero
// value is valid and means: TCP_NODELAY on, SO_KEEPALIVE on, OS defaults for
// everything else.
type Options struct {
	// NoDelay is TCP_NODELAY. Default: ON (fastpub's choice: the writer
	// batches by itself; Go's net does the same). Off => Nagle, which only
	// takes effect after ApplyConnected because Go forces TCP_NODELAY on
	// after connect. NOTE the official C client leaves Nagle on. Ignored on
	// unix sockets.
	NoDelay Toggle
	// SendBuffer is SO_SNDBUF in bytes; 0 leaves the OS default. Linux
	// doubles the value and clamps it to net.core.wmem_max.
	SendBuffer int
	// RecvBuffer is SO_RCVBUF in bytes; 0 leaves the OS default. Linux
	// doubles the value and clamps it to net.core.rmem_max.
	RecvBuffer int
	// KeepAlive is SO_KEEPALIVE. Default: ON, as the official client (it
	// enables SO_KEEPALIVE before applying URI options). Probe timing is left
	// to the OS (Options.Dialer sets net.Dialer.KeepAlive = -1 so Go does
	// not install its own 15 s probe period).
	KeepAlive Toggle
	// Linger is SO_LINGER in seconds: 0 leaves it unset (OS default: off,
	// close returns at once and the kernel keeps sending in the background);
	// N>0 turns it on with N seconds (close blocks up to N s until queued data
	// is acknowledged). An abortive close (on with 0 s, which sends RST) is
	// deliberately not expressible: 0 means "not set", as in the official
	// client where tcp_linger=0 turns linger off.
	Linger int
	// Bind is the local address to bind before connect: "addr",
	// "addr:port", "[v6addr]" or "[v6addr]:port", numeric only (see
	// ParseBind); "" binds nothing. TCP only: a non-empty Bind makes Control
	// fail on a unix socket.
	Bind string
}

// maxLinger bounds SO_LINGER: the kernel's l_linger is a C int.
const maxLinger = math.MaxInt32

// Validate checks every field without touching a socket. Control calls it
// first, so a bad Options fails the dial before any system call.
func (o Options) Validate() error {
	if o.NoDelay > Off {
		return &OptionError{Option: "TCP_NODELAY", Value: o.NoDelay.String(), Reason: "unknown Toggle", Err: ErrInvalidValue}
	}
	if o.KeepAlive > Off {
		return &OptionError{Option: "SO_KEEPALIVE", Value: o.KeepAlive.String(), Reason: "unknown Toggle", Err: ErrInvalidValue}
	}
	if err := checkBuffer("SO_SNDBUF", o.SendBuffer, true); err != nil {
		return err
	}
	if err := checkBuffer("SO_RCVBUF", o.RecvBuffer, true); err != nil {
		return err
	}
	if err := checkLinger(o.Linger, true); err != nil {
		return err
	}
	if o.Bind != "" {
		if _, err := ParseBind(o.Bind); err != nil {
			return err
		}
	}
	return nil
}

func checkBuffer(option string, bytes int, zeroOK bool) error {
	if bytes < 0 || (bytes == 0 && !zeroOK) {
		return &OptionError{Option: option, Value: strconv.Itoa(bytes), Reason: "must be > 0", Err: ErrInvalidValue}
	}
	if bytes > math.MaxInt32 {
		return &OptionError{Option: option, Value: strconv.Itoa(bytes), Reason: "must fit a C int", Err: ErrInvalidValue}
	}
	return nil
}

func checkLinger(seconds int, zeroOK bool) error {
	if seconds < 0 || (seconds == 0 && !zeroOK) || seconds > maxLinger {
		return &OptionError{Option: "SO_LINGER", Value: strconv.Itoa(seconds), Reason: "seconds must be >= 0 and fit a C int", Err: ErrInvalidValue}
	}
	return nil
}

// ParseBind parses a bind address in the forms the official client accepts:
// "addr", "addr:port", "[v6addr]" and "[v6addr]:port". The address must be a
// numeric IPv4 or IPv6 literal (an IPv6 zone such as "[fe80::1%eth0]" is
// allowed); host names are rejected (the official client resolves them with
// getaddrinfo; fastpub does not resolve names inside a dial's Control hook).
// An IPv6 literal must be in brackets: a bare "::1" is rejected, as it is by
// the official client, which splits at the first ':'. A missing port means
// port 0 (the kernel picks an ephemeral port at bind time).
func ParseBind(addr string) (netip.AddrPort, error) {
	bad := func(reason string) (netip.AddrPort, error) {
		return netip.AddrPort{}, &OptionError{Option: "bind", Value: addr, Reason: reason, Err: ErrInvalidBind}
	}
	if addr == "" {
		return bad("empty")
	}
	host, port := addr, ""
	if addr[0] == '[' {
		end := strings.IndexByte(addr, ']')
		if end < 0 {
			return bad("missing ']'")
		}
		host = addr[1:end]
		rest := addr[end+1:]
		switch {
		case rest == "":
		case rest[0] == ':':
			port = rest[1:]
			if port == "" {
				return bad("empty port")
			}
		default:
			return bad("unexpected text after ']'")
		}
	} else if i := strings.IndexByte(addr, ':'); i >= 0 {
		host, port = addr[:i], addr[i+1:]
		if strings.IndexByte(port, ':') >= 0 {
			return bad("an IPv6 address must be in brackets")
		}
		if port == "" {
			return bad("empty port")
		}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return bad("not a numeric IP address")
	}
	if addr[0] == '[' && !ip.Is6() {
		return bad("brackets hold an IPv6 address only")
	}
	var p uint64
	if port != "" {
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return bad("port is not a decimal number")
			}
		}
		p, err = strconv.ParseUint(port, 10, 16)
		if err != nil {
			return bad("port out of range")
		}
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}
