//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sockopt

import (
	"net"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// SetNoDelay sets TCP_NODELAY: true disables Nagle's algorithm (segments are
// sent as soon as they are written), false enables it. Only for TCP sockets:
// on a unix socket Linux returns EOPNOTSUPP. Go's net package turns
// TCP_NODELAY on after connect, so set it on a connected socket (see
// Options.ApplyConnected) when you want Nagle.
func SetNoDelay(fd int, on bool) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolInt(on)))
}

// NoDelay reports TCP_NODELAY.
func NoDelay(fd int) (bool, error) {
	v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
	return v != 0, os.NewSyscallError("getsockopt", err)
}

// SetSendBuffer sets SO_SNDBUF to bytes (> 0). Linux doubles the value to
// account for bookkeeping overhead and clamps it to net.core.wmem_max (no
// error when clamped); SendBuffer then reports the doubled value. Setting it
// also stops the kernel from auto-tuning the send buffer of a TCP socket.
func SetSendBuffer(fd int, bytes int) error {
	if err := checkBuffer("SO_SNDBUF", bytes, false); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes))
}

// SendBuffer reports SO_SNDBUF as the kernel reports it (doubled on Linux).
func SendBuffer(fd int) (int, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF)
	return v, os.NewSyscallError("getsockopt", err)
}

// SetRecvBuffer sets SO_RCVBUF to bytes (> 0). Set it before connect: the
// TCP window scale is negotiated in the SYN. Linux doubles the value and
// clamps it to net.core.rmem_max, like SetSendBuffer.
func SetRecvBuffer(fd int, bytes int) error {
	if err := checkBuffer("SO_RCVBUF", bytes, false); err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes))
}

// RecvBuffer reports SO_RCVBUF as the kernel reports it (doubled on Linux).
func RecvBuffer(fd int) (int, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	return v, os.NewSyscallError("getsockopt", err)
}

// SetLinger sets SO_LINGER with the official client's semantics:
//
//   - seconds == 0: linger off (l_onoff=0), the OS default: close returns at
//     once and the kernel delivers queued data in the background.
//   - seconds > 0: linger on with that many seconds (l_onoff=1,
//     l_linger=seconds): close blocks until queued data is acknowledged or
//     the time runs out, then the connection is reset.
//   - seconds < 0: ErrInvalidValue.
//
// On darwin the value is set with SO_LINGER_SEC, so it is seconds there too.
func SetLinger(fd int, seconds int) error {
	if err := checkLinger(seconds, true); err != nil {
		return err
	}
	l := unix.Linger{Onoff: int32(boolInt(seconds > 0)), Linger: int32(seconds)}
	return os.NewSyscallError("setsockopt", unix.SetsockoptLinger(fd, unix.SOL_SOCKET, soLinger, &l))
}

// Linger reports SO_LINGER: whether it is on and its time in seconds. The
// seconds are meaningful only when on: Linux keeps (and reports) the previous
// time after linger is turned off.
func Linger(fd int) (seconds int, on bool, err error) {
	l, err := unix.GetsockoptLinger(fd, unix.SOL_SOCKET, soLinger)
	if err != nil {
		return 0, false, os.NewSyscallError("getsockopt", err)
	}
	return int(l.Linger), l.Onoff != 0, nil
}

// SetKeepAlive sets SO_KEEPALIVE. Probe timing (TCP_KEEPIDLE etc.) is left
// to the OS. Linux accepts it on unix sockets, where it has no effect.
func SetKeepAlive(fd int, on bool) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolInt(on)))
}

// KeepAlive reports SO_KEEPALIVE.
func KeepAlive(fd int) (bool, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	return v != 0, os.NewSyscallError("getsockopt", err)
}

// Bind binds fd to a local address given as "addr", "addr:port", "[v6]" or
// "[v6]:port" (numeric only, see ParseBind). family is the socket's address
// family, unix.AF_INET or unix.AF_INET6; 0 asks the kernel. An IPv4 address
// on an AF_INET6 socket is bound as its IPv4-mapped form (::ffff:a.b.c.d),
// as getaddrinfo with AI_V4MAPPED does in the official client; an IPv6
// address on an AF_INET socket is ErrInvalidBind. No SO_REUSEADDR is set, so
// binding an explicit port that is in use (or in TIME_WAIT) fails with
// EADDRINUSE.
func Bind(fd int, addr string, family int) error {
	ap, err := ParseBind(addr)
	if err != nil {
		return err
	}
	if family == 0 {
		if family, err = socketFamily(fd); err != nil {
			return err
		}
	}
	ip := ap.Addr()
	var sa unix.Sockaddr
	switch family {
	case unix.AF_INET:
		if !ip.Unmap().Is4() {
			return &OptionError{Option: "bind", Value: addr, Reason: "IPv6 address on an IPv4 socket", Err: ErrInvalidBind}
		}
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.Unmap().As4()}
	case unix.AF_INET6:
		sa6 := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
		if z := ip.Zone(); z != "" {
			id, err := zoneIndex(z)
			if err != nil {
				return &OptionError{Option: "bind", Value: addr, Reason: "unknown IPv6 zone", Err: ErrInvalidBind}
			}
			sa6.ZoneId = id
		}
		sa = sa6
	default:
		return &OptionError{Option: "bind", Value: addr, Reason: "socket family " + strconv.Itoa(family) + " is not IPv4 or IPv6", Err: ErrNotApplicable}
	}
	return os.NewSyscallError("bind", unix.Bind(fd, sa))
}

func zoneIndex(zone string) (uint32, error) {
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

// Control is the function for net.Dialer.Control (Options.Dialer installs
// it). It validates o, then applies every option on the raw socket BEFORE
// connect, in this order: SO_KEEPALIVE (always: Default means on),
// SO_SNDBUF and SO_RCVBUF (when > 0; buffers must be set before connect to
// affect the TCP window), SO_LINGER (when > 0), TCP_NODELAY (TCP only,
// when not Default) and bind (TCP only, when set).
//
// network selects what applies: "tcp", "tcp4", "tcp6" get everything;
// "unix", "unixgram", "unixpacket" skip TCP_NODELAY silently and fail on a
// non-empty Bind (ErrNotApplicable); any other network is ErrNotApplicable.
// address is not used.
//
// It returns the error of RawConn.Control itself if that fails, else the
// error of the first option that failed, as an *OptionError naming the
// option and wrapping the *os.SyscallError.
func (o Options) Control(network, address string, c syscall.RawConn) error {
	kind, err := networkKind(network)
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if kind == kindUnix && o.Bind != "" {
		return &OptionError{Option: "bind", Value: o.Bind, Reason: "unix sockets take their path from the connection string, not a bind address", Err: ErrNotApplicable}
	}
	var inner error
	if err := c.Control(func(fd uintptr) { inner = o.apply(int(fd), kind) }); err != nil {
		return err
	}
	return inner
}

// ApplyConnected re-applies, on a connected TCP conn, the options Go's net
// package overrides after connect: TCP_NODELAY (Go forces it on; Default
// means on, so only Off changes anything) and SO_KEEPALIVE (changed by
// net.Dialer when its KeepAlive is not negative). On a unix conn it does
// nothing. c is typically the *net.TCPConn or *net.UnixConn returned by
// Dialer().Dial; for TLS pass the underlying conn. Errors are *OptionError
// values wrapping the *os.SyscallError.
func (o Options) ApplyConnected(c syscall.Conn) error {
	if err := o.Validate(); err != nil {
		return err
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var inner error
	err = rc.Control(func(fd uintptr) {
		family, ferr := socketFamily(int(fd))
		if ferr != nil {
			inner = ferr
			return
		}
		if family != unix.AF_INET && family != unix.AF_INET6 {
			return // unix socket: nothing of ours is overridden by Go
		}
		if e := SetNoDelay(int(fd), o.NoDelay.enabled(true)); e != nil {
			inner = &OptionError{Option: "TCP_NODELAY", Value: o.NoDelay.String(), Err: e}
			return
		}
		if e := SetKeepAlive(int(fd), o.KeepAlive.enabled(true)); e != nil {
			inner = &OptionError{Option: "SO_KEEPALIVE", Value: o.KeepAlive.String(), Err: e}
		}
	})
	if err != nil {
		return err
	}
	return inner
}

// Dialer returns a net.Dialer with Control set to o.Control, KeepAlive = -1
// (so Go neither enables keepalive nor sets its own probe period behind our
// back; SO_KEEPALIVE is set raw in Control) and LocalAddr nil (the bind
// happens raw in Control). Call ApplyConnected on the returned conn for
// NoDelay: Off to take effect.
func (o Options) Dialer() *net.Dialer {
	return &net.Dialer{Control: o.Control, KeepAlive: -1}
}

type netKind uint8

const (
	kindTCP netKind = iota
	kindUnix
)

func networkKind(network string) (netKind, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		return kindTCP, nil
	case "unix", "unixgram", "unixpacket":
		return kindUnix, nil
	}
	return 0, &OptionError{Option: "network", Value: network, Reason: "only tcp and unix sockets are supported", Err: ErrNotApplicable}
}

// apply sets the options on a raw, unconnected socket; o is valid.
func (o Options) apply(fd int, kind netKind) error {
	wrap := func(option, value string, err error) error {
		if err == nil {
			return nil
		}
		if _, ok := err.(*OptionError); ok {
			return err
		}
		return &OptionError{Option: option, Value: value, Err: err}
	}
	if err := SetKeepAlive(fd, o.KeepAlive.enabled(true)); err != nil {
		return wrap("SO_KEEPALIVE", o.KeepAlive.String(), err)
	}
	if o.SendBuffer > 0 {
		if err := SetSendBuffer(fd, o.SendBuffer); err != nil {
			return wrap("SO_SNDBUF", strconv.Itoa(o.SendBuffer), err)
		}
	}
	if o.RecvBuffer > 0 {
		if err := SetRecvBuffer(fd, o.RecvBuffer); err != nil {
			return wrap("SO_RCVBUF", strconv.Itoa(o.RecvBuffer), err)
		}
	}
	if o.Linger > 0 {
		if err := SetLinger(fd, o.Linger); err != nil {
			return wrap("SO_LINGER", strconv.Itoa(o.Linger), err)
		}
	}
	if kind != kindTCP {
		return nil
	}
	if o.NoDelay != Default {
		if err := SetNoDelay(fd, o.NoDelay == On); err != nil {
			return wrap("TCP_NODELAY", o.NoDelay.String(), err)
		}
	}
	if o.Bind != "" {
		if err := Bind(fd, o.Bind, 0); err != nil {
			return wrap("bind", o.Bind, err)
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
