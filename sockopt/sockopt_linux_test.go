package sockopt_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fastpub/fastpub/sockopt"
)

// These tests open real loopback TCP and unix sockets and read every option
// back with getsockopt. They assert Linux kernel behaviour (buffer doubling,
// EOPNOTSUPP for TCP_NODELAY on AF_UNIX), hence the _linux file name.

const dialTimeout = 5 * time.Second

// listener accepts and holds connections until the test ends, so the client
// side stays connected while its options are read back.
func listener(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for i := 0; i < 1000; i++ { // bounded: tests dial a handful of times
			c, err := ln.Accept()
			if err != nil {
				return // listener closed at cleanup
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-done:
		case <-time.After(dialTimeout):
			t.Error("accept loop did not stop")
		}
	})
	return ln
}

func tcpListener(t *testing.T) net.Listener { return listener(t, "tcp", "127.0.0.1:0") }

func unixListener(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "amps.sock")
	return listener(t, "unix", path), path
}

// dial dials with o.Dialer() and, when connected is set, runs ApplyConnected.
func dial(t *testing.T, o sockopt.Options, network, addr string, connected bool) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	c, err := o.Dialer().DialContext(ctx, network, addr)
	if err != nil {
		t.Fatalf("dial %s %s with %+v: %v", network, addr, o, err)
	}
	t.Cleanup(func() { c.Close() })
	if connected {
		if err := o.ApplyConnected(c.(syscall.Conn)); err != nil {
			t.Fatalf("ApplyConnected(%+v): %v", o, err)
		}
	}
	return c
}

// onFD runs f on the raw descriptor of c.
func onFD(t *testing.T, c net.Conn, f func(fd int)) {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Control(func(fd uintptr) { f(int(fd)) }); err != nil {
		t.Fatal(err)
	}
}

// readBack is what getsockopt reports for one connected socket.
type readBack struct {
	noDelay    bool
	noDelayErr error
	keepAlive  bool
	lingerOn   bool
	lingerSec  int
	sndbuf     int
	rcvbuf     int
}

func read(t *testing.T, c net.Conn) readBack {
	t.Helper()
	var r readBack
	onFD(t, c, func(fd int) {
		var err error
		r.noDelay, r.noDelayErr = sockopt.NoDelay(fd)
		if r.keepAlive, err = sockopt.KeepAlive(fd); err != nil {
			t.Errorf("KeepAlive: %v", err)
		}
		if r.lingerSec, r.lingerOn, err = sockopt.Linger(fd); err != nil {
			t.Errorf("Linger: %v", err)
		}
		if r.sndbuf, err = sockopt.SendBuffer(fd); err != nil {
			t.Errorf("SendBuffer: %v", err)
		}
		if r.rcvbuf, err = sockopt.RecvBuffer(fd); err != nil {
			t.Errorf("RecvBuffer: %v", err)
		}
	})
	return r
}

func sysctl(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/net/core/" + name)
	if err != nil {
		t.Skipf("cannot read %s: %v", name, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// checkBuffer asserts what Linux reports for a requested SO_SNDBUF/SO_RCVBUF:
// twice the request, clamped to twice the sysctl maximum.
func checkBuffer(t *testing.T, what string, got, requested, sysMax int) {
	t.Helper()
	want := 2 * min(requested, sysMax)
	if got != want {
		t.Errorf("%s = %d, want %d (2 x min(requested %d, max %d))", what, got, want, requested, sysMax)
	}
}

// reqBuf differs from every Linux default (tcp_wmem[1]=16384,
// tcp_rmem[1]=131072, [rw]mem_default=212992) even after doubling.
const reqBuf = 48 * 1024

func TestTCPOptionsReadBack(t *testing.T) {
	ln := tcpListener(t)
	wmax, rmax := sysctl(t, "wmem_max"), sysctl(t, "rmem_max")
	tests := []struct {
		name          string
		o             sockopt.Options
		connected     bool // run ApplyConnected
		noDelay       bool
		keepAlive     bool
		lingerOn      bool
		lingerSec     int
		sndbuf        int // requested; 0: not checked (kernel default)
		rcvbuf        int
		defaultBuffer bool // assert the buffers are NOT the requested test size
	}{
		{name: "zero options", connected: true, noDelay: true, keepAlive: true, defaultBuffer: true},
		{name: "zero options, Control only", noDelay: true, keepAlive: true, defaultBuffer: true},
		{name: "nodelay on", o: sockopt.Options{NoDelay: sockopt.On}, connected: true, noDelay: true, keepAlive: true},
		// Go forces TCP_NODELAY on after connect: Control alone cannot turn it off ...
		{name: "nodelay off, Control only", o: sockopt.Options{NoDelay: sockopt.Off}, noDelay: true, keepAlive: true},
		// ... ApplyConnected can.
		{name: "nodelay off", o: sockopt.Options{NoDelay: sockopt.Off}, connected: true, noDelay: false, keepAlive: true},
		{name: "keepalive on", o: sockopt.Options{KeepAlive: sockopt.On}, connected: true, noDelay: true, keepAlive: true},
		{name: "keepalive off", o: sockopt.Options{KeepAlive: sockopt.Off}, connected: true, noDelay: true, keepAlive: false},
		{name: "keepalive off, Control only", o: sockopt.Options{KeepAlive: sockopt.Off}, noDelay: true, keepAlive: false},
		{name: "linger 7", o: sockopt.Options{Linger: 7}, connected: true, noDelay: true, keepAlive: true, lingerOn: true, lingerSec: 7},
		{name: "linger 0 is off", o: sockopt.Options{Linger: 0}, connected: true, noDelay: true, keepAlive: true},
		{name: "buffers", o: sockopt.Options{SendBuffer: reqBuf, RecvBuffer: reqBuf}, connected: true, noDelay: true, keepAlive: true, sndbuf: reqBuf, rcvbuf: reqBuf},
		{name: "huge buffers are clamped", o: sockopt.Options{SendBuffer: 1 << 30, RecvBuffer: 1 << 30}, connected: true, noDelay: true, keepAlive: true, sndbuf: 1 << 30, rcvbuf: 1 << 30},
		{name: "tiny buffers", o: sockopt.Options{SendBuffer: 1, RecvBuffer: 1}, connected: true, noDelay: true, keepAlive: true},
		{
			name:      "everything",
			o:         sockopt.Options{NoDelay: sockopt.Off, KeepAlive: sockopt.Off, Linger: 3, SendBuffer: reqBuf, RecvBuffer: reqBuf, Bind: "127.0.0.1"},
			connected: true, noDelay: false, keepAlive: false, lingerOn: true, lingerSec: 3, sndbuf: reqBuf, rcvbuf: reqBuf,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, tt.o, "tcp", ln.Addr().String(), tt.connected)
			r := read(t, c)
			if r.noDelayErr != nil {
				t.Fatalf("NoDelay: %v", r.noDelayErr)
			}
			if r.noDelay != tt.noDelay {
				t.Errorf("TCP_NODELAY = %v, want %v", r.noDelay, tt.noDelay)
			}
			if r.keepAlive != tt.keepAlive {
				t.Errorf("SO_KEEPALIVE = %v, want %v", r.keepAlive, tt.keepAlive)
			}
			if r.lingerOn != tt.lingerOn || (tt.lingerOn && r.lingerSec != tt.lingerSec) {
				t.Errorf("SO_LINGER = (on %v, %d s), want (on %v, %d s)", r.lingerOn, r.lingerSec, tt.lingerOn, tt.lingerSec)
			}
			if tt.sndbuf > 0 {
				checkBuffer(t, "SO_SNDBUF", r.sndbuf, tt.sndbuf, wmax)
			}
			if tt.rcvbuf > 0 {
				checkBuffer(t, "SO_RCVBUF", r.rcvbuf, tt.rcvbuf, rmax)
			}
			if tt.defaultBuffer && (r.sndbuf == 2*reqBuf || r.rcvbuf == 2*reqBuf) {
				t.Errorf("buffers (%d, %d) look set although Options left them at 0", r.sndbuf, r.rcvbuf)
			}
			if tt.o.SendBuffer == 1 {
				// Linux raises tiny requests to its minimum (SOCK_MIN_SNDBUF,
				// SOCK_MIN_RCVBUF: a few KiB) instead of reporting 2.
				if r.sndbuf <= 2 || r.rcvbuf <= 2 || r.sndbuf >= 2*reqBuf || r.rcvbuf >= 2*reqBuf {
					t.Errorf("tiny buffers reported as (%d, %d), want the kernel minimum", r.sndbuf, r.rcvbuf)
				}
			}
		})
	}
}

func TestTCPBind(t *testing.T) {
	ln := tcpListener(t)
	for _, bind := range []string{"127.0.0.1", "127.0.0.1:0"} {
		t.Run(bind, func(t *testing.T) {
			c := dial(t, sockopt.Options{Bind: bind}, "tcp", ln.Addr().String(), true)
			la := c.LocalAddr().(*net.TCPAddr)
			if !la.IP.Equal(net.IPv4(127, 0, 0, 1)) || la.Port == 0 {
				t.Errorf("LocalAddr = %v, want 127.0.0.1 with an ephemeral port", la)
			}
		})
	}
	t.Run("explicit port", func(t *testing.T) {
		// A free port is found by binding :0 and closing; another process may
		// grab it in between, so retry a bounded number of times on EADDRINUSE.
		for attempt := 0; attempt < 5; attempt++ {
			port := freePort(t)
			bind := "127.0.0.1:" + strconv.Itoa(port)
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			c, err := sockopt.Options{Bind: bind}.Dialer().DialContext(ctx, "tcp", ln.Addr().String())
			cancel()
			if errors.Is(err, unix.EADDRINUSE) {
				continue
			}
			if err != nil {
				t.Fatalf("dial with bind %s: %v", bind, err)
			}
			defer c.Close()
			if got := c.LocalAddr().(*net.TCPAddr).Port; got != port {
				t.Fatalf("local port = %d, want %d", got, port)
			}
			return
		}
		t.Skip("no free port found in 5 attempts")
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestTCPBindErrors(t *testing.T) {
	ln := tcpListener(t)
	tests := []struct {
		name   string
		bind   string
		target error // errors.Is target
	}{
		{"not an address", "localhost", sockopt.ErrInvalidBind},
		{"bare IPv6", "::1", sockopt.ErrInvalidBind},
		{"bad port", "127.0.0.1:http", sockopt.ErrInvalidBind},
		{"port out of range", "127.0.0.1:65536", sockopt.ErrInvalidBind},
		{"IPv6 on an IPv4 socket", "[::1]", sockopt.ErrInvalidBind},
		{"address not on this host", "192.0.2.1", unix.EADDRNOTAVAIL},
		// The listener holds 127.0.0.1:P in LISTEN state; binding it again fails.
		{"port in use", ln.Addr().String(), unix.EADDRINUSE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			c, err := sockopt.Options{Bind: tt.bind}.Dialer().DialContext(ctx, "tcp", ln.Addr().String())
			if err == nil {
				c.Close()
				t.Fatalf("dial with bind %q succeeded", tt.bind)
			}
			if !errors.Is(err, tt.target) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.target)
			}
			var oe *sockopt.OptionError
			if !errors.As(err, &oe) || oe.Option != "bind" {
				t.Fatalf("err = %v, want an *OptionError for bind", err)
			}
		})
	}
}

func TestTCPIPv6(t *testing.T) {
	l, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l.Close()
	ln := listener(t, "tcp6", "[::1]:0")
	c := dial(t, sockopt.Options{Bind: "[::1]", NoDelay: sockopt.Off, Linger: 2}, "tcp", ln.Addr().String(), true)
	if la := c.LocalAddr().(*net.TCPAddr); !la.IP.Equal(net.IPv6loopback) {
		t.Errorf("LocalAddr = %v, want [::1]:port", la)
	}
	r := read(t, c)
	if r.noDelay || !r.keepAlive || !r.lingerOn || r.lingerSec != 2 {
		t.Errorf("read back %+v, want nodelay off, keepalive on, linger 2 s", r)
	}
}

// Bind on raw, unconnected sockets: explicit family, family 0 (asked from
// the kernel), and an IPv4 address on an IPv6 socket (bound v4-mapped).
func TestBindRaw(t *testing.T) {
	tests := []struct {
		name   string
		domain int
		addr   string
		family int
		want   netip.Addr
	}{
		{"ipv4 family given", unix.AF_INET, "127.0.0.1", unix.AF_INET, netip.MustParseAddr("127.0.0.1")},
		{"ipv4 family from kernel", unix.AF_INET, "127.0.0.1:0", 0, netip.MustParseAddr("127.0.0.1")},
		{"ipv4 on ipv6 socket", unix.AF_INET6, "127.0.0.1", 0, netip.MustParseAddr("::ffff:127.0.0.1")},
		{"ipv6", unix.AF_INET6, "[::1]:0", unix.AF_INET6, netip.MustParseAddr("::1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fd, err := unix.Socket(tt.domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Skipf("socket: %v", err)
			}
			defer unix.Close(fd)
			if err := sockopt.Bind(fd, tt.addr, tt.family); err != nil {
				if tt.domain == unix.AF_INET6 && errors.Is(err, unix.EADDRNOTAVAIL) {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				t.Fatalf("Bind(%q): %v", tt.addr, err)
			}
			sa, err := unix.Getsockname(fd)
			if err != nil {
				t.Fatal(err)
			}
			var got netip.Addr
			var port int
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				got, port = netip.AddrFrom4(sa.Addr), sa.Port
			case *unix.SockaddrInet6:
				got, port = netip.AddrFrom16(sa.Addr), sa.Port
			}
			if got != tt.want || port == 0 {
				t.Errorf("bound to %v port %d, want %v with an ephemeral port", got, port, tt.want)
			}
		})
	}
	t.Run("unix socket", func(t *testing.T) {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := sockopt.Bind(fd, "127.0.0.1", 0); !errors.Is(err, sockopt.ErrNotApplicable) {
			t.Fatalf("Bind on AF_UNIX: err = %v, want ErrNotApplicable", err)
		}
	})
}

func TestUnixOptionsReadBack(t *testing.T) {
	_, path := unixListener(t)
	wmax, rmax := sysctl(t, "wmem_max"), sysctl(t, "rmem_max")
	tests := []struct {
		name      string
		o         sockopt.Options
		keepAlive bool
		lingerOn  bool
		lingerSec int
	}{
		{name: "zero options", keepAlive: true},
		{name: "keepalive off", o: sockopt.Options{KeepAlive: sockopt.Off}},
		{name: "keepalive on", o: sockopt.Options{KeepAlive: sockopt.On}, keepAlive: true},
		{name: "linger", o: sockopt.Options{Linger: 4}, keepAlive: true, lingerOn: true, lingerSec: 4},
		// TCP_NODELAY does not apply to AF_UNIX: it is skipped, not an error.
		{name: "nodelay on is skipped", o: sockopt.Options{NoDelay: sockopt.On}, keepAlive: true},
		{name: "nodelay off is skipped", o: sockopt.Options{NoDelay: sockopt.Off}, keepAlive: true},
		{name: "buffers", o: sockopt.Options{SendBuffer: reqBuf, RecvBuffer: reqBuf}, keepAlive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, tt.o, "unix", path, true) // ApplyConnected is a no-op on unix
			r := read(t, c)
			if !errors.Is(r.noDelayErr, unix.EOPNOTSUPP) {
				t.Errorf("NoDelay on AF_UNIX: err = %v, want EOPNOTSUPP", r.noDelayErr)
			}
			if r.keepAlive != tt.keepAlive {
				t.Errorf("SO_KEEPALIVE = %v, want %v", r.keepAlive, tt.keepAlive)
			}
			if r.lingerOn != tt.lingerOn || (tt.lingerOn && r.lingerSec != tt.lingerSec) {
				t.Errorf("SO_LINGER = (on %v, %d s), want (on %v, %d s)", r.lingerOn, r.lingerSec, tt.lingerOn, tt.lingerSec)
			}
			if tt.o.SendBuffer > 0 {
				checkBuffer(t, "SO_SNDBUF", r.sndbuf, tt.o.SendBuffer, wmax)
				checkBuffer(t, "SO_RCVBUF", r.rcvbuf, tt.o.RecvBuffer, rmax)
			}
		})
	}
	t.Run("bind is not applicable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		defer cancel()
		c, err := sockopt.Options{Bind: "127.0.0.1"}.Dialer().DialContext(ctx, "unix", path)
		if err == nil {
			c.Close()
			t.Fatal("dial unix with Bind succeeded")
		}
		if !errors.Is(err, sockopt.ErrNotApplicable) {
			t.Fatalf("err = %v, want ErrNotApplicable", err)
		}
	})
}

// SetNoDelay itself does not skip on a unix socket: the skip is Control's.
func TestSetNoDelayOnUnixFails(t *testing.T) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	err = sockopt.SetNoDelay(fd, true)
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "setsockopt" || !errors.Is(err, unix.EOPNOTSUPP) {
		t.Fatalf("SetNoDelay on AF_UNIX: err = %v, want setsockopt: EOPNOTSUPP", err)
	}
}

// Every setter and getter wraps errno in *os.SyscallError.
func TestSyscallErrors(t *testing.T) {
	const badFD = -1
	_, _, lerr := sockopt.Linger(badFD)
	_, nerr := sockopt.NoDelay(badFD)
	_, kerr := sockopt.KeepAlive(badFD)
	_, serr := sockopt.SendBuffer(badFD)
	_, rerr := sockopt.RecvBuffer(badFD)
	tests := []struct {
		name    string
		err     error
		syscall string
	}{
		{"SetNoDelay", sockopt.SetNoDelay(badFD, true), "setsockopt"},
		{"SetSendBuffer", sockopt.SetSendBuffer(badFD, 4096), "setsockopt"},
		{"SetRecvBuffer", sockopt.SetRecvBuffer(badFD, 4096), "setsockopt"},
		{"SetLinger", sockopt.SetLinger(badFD, 1), "setsockopt"},
		{"SetKeepAlive", sockopt.SetKeepAlive(badFD, true), "setsockopt"},
		{"Bind", sockopt.Bind(badFD, "127.0.0.1", unix.AF_INET), "bind"},
		{"Bind family from kernel", sockopt.Bind(badFD, "127.0.0.1", 0), "getsockopt"},
		{"NoDelay", nerr, "getsockopt"},
		{"KeepAlive", kerr, "getsockopt"},
		{"Linger", lerr, "getsockopt"},
		{"SendBuffer", serr, "getsockopt"},
		{"RecvBuffer", rerr, "getsockopt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var se *os.SyscallError
			if !errors.As(tt.err, &se) || se.Syscall != tt.syscall || !errors.Is(tt.err, unix.EBADF) {
				t.Fatalf("err = %v, want %s: EBADF as *os.SyscallError", tt.err, tt.syscall)
			}
		})
	}
}

func TestSetterArgumentErrors(t *testing.T) {
	var big64 int64 = 1 << 40
	big := int(big64) // beyond a C int (0 where int is 32 bits: also invalid)
	tests := []struct {
		name string
		err  error
	}{
		{"SetSendBuffer 0", sockopt.SetSendBuffer(-1, 0)},
		{"SetSendBuffer negative", sockopt.SetSendBuffer(-1, -5)},
		{"SetRecvBuffer 0", sockopt.SetRecvBuffer(-1, 0)},
		{"SetRecvBuffer too big", sockopt.SetRecvBuffer(-1, big)},
		{"SetLinger negative", sockopt.SetLinger(-1, -1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Rejected before any system call: the bad fd is never used.
			if !errors.Is(tt.err, sockopt.ErrInvalidValue) || errors.Is(tt.err, unix.EBADF) {
				t.Fatalf("err = %v, want ErrInvalidValue without a system call", tt.err)
			}
		})
	}
}

// SetLinger(fd, 0) turns linger off after it was on.
func TestSetLingerOnThenOff(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	steps := []struct {
		set    int
		on     bool
		second int
	}{{9, true, 9}, {0, false, 0}, {1, true, 1}}
	for _, s := range steps {
		if err := sockopt.SetLinger(fd, s.set); err != nil {
			t.Fatalf("SetLinger(%d): %v", s.set, err)
		}
		sec, on, err := sockopt.Linger(fd)
		if err != nil {
			t.Fatal(err)
		}
		// Linux keeps the previous l_linger when linger is turned off, so the
		// seconds are only meaningful while it is on.
		if on != s.on || (on && sec != s.second) {
			t.Errorf("after SetLinger(%d): (%d s, on %v), want (%d s, on %v)", s.set, sec, on, s.second, s.on)
		}
	}
}

// fakeRawConn lets Control be driven without a dial.
type fakeRawConn struct {
	fd  uintptr
	err error // returned by Control without calling f
}

func (f fakeRawConn) Control(fn func(fd uintptr)) error {
	if f.err != nil {
		return f.err
	}
	fn(f.fd)
	return nil
}
func (f fakeRawConn) Read(func(uintptr) bool) error  { return errors.New("not implemented") }
func (f fakeRawConn) Write(func(uintptr) bool) error { return errors.New("not implemented") }

func TestControlErrors(t *testing.T) {
	outer := errors.New("raw conn closed")
	const badFD = ^uintptr(0) // int(-1): EBADF for every system call
	tests := []struct {
		name    string
		o       sockopt.Options
		network string
		rc      fakeRawConn
		target  error
		option  string
	}{
		{"RawConn.Control error is returned", sockopt.Options{}, "tcp4", fakeRawConn{err: outer}, outer, ""},
		{"setsockopt error is returned", sockopt.Options{}, "tcp4", fakeRawConn{fd: badFD}, unix.EBADF, "SO_KEEPALIVE"},
		{"invalid options fail before the socket", sockopt.Options{SendBuffer: -1}, "tcp", fakeRawConn{err: outer}, sockopt.ErrInvalidValue, "SO_SNDBUF"},
		{"invalid linger", sockopt.Options{Linger: -3}, "tcp", fakeRawConn{err: outer}, sockopt.ErrInvalidValue, "SO_LINGER"},
		{"invalid toggle", sockopt.Options{NoDelay: 7}, "tcp", fakeRawConn{err: outer}, sockopt.ErrInvalidValue, "TCP_NODELAY"},
		{"invalid bind", sockopt.Options{Bind: "[::1"}, "tcp", fakeRawConn{err: outer}, sockopt.ErrInvalidBind, "bind"},
		{"unknown network", sockopt.Options{}, "udp", fakeRawConn{err: outer}, sockopt.ErrNotApplicable, "network"},
		{"bind on unix", sockopt.Options{Bind: "127.0.0.1"}, "unix", fakeRawConn{err: outer}, sockopt.ErrNotApplicable, "bind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Control(tt.network, "", tt.rc)
			if !errors.Is(err, tt.target) {
				t.Fatalf("err = %v, want errors.Is %v", err, tt.target)
			}
			if tt.option != "" {
				var oe *sockopt.OptionError
				if !errors.As(err, &oe) || oe.Option != tt.option {
					t.Fatalf("err = %#v, want *OptionError for %s", err, tt.option)
				}
			}
		})
	}
}

type fakeConn struct{ rc syscall.RawConn }

func (f fakeConn) SyscallConn() (syscall.RawConn, error) { return f.rc, nil }

func TestApplyConnectedErrors(t *testing.T) {
	outer := errors.New("raw conn closed")
	if err := (sockopt.Options{}).ApplyConnected(fakeConn{fakeRawConn{err: outer}}); !errors.Is(err, outer) {
		t.Errorf("ApplyConnected with failing RawConn: err = %v, want %v", err, outer)
	}
	if err := (sockopt.Options{Linger: -1}).ApplyConnected(fakeConn{fakeRawConn{err: outer}}); !errors.Is(err, sockopt.ErrInvalidValue) {
		t.Errorf("ApplyConnected with invalid options: err = %v, want ErrInvalidValue", err)
	}
	if err := (sockopt.Options{}).ApplyConnected(fakeConn{fakeRawConn{fd: ^uintptr(0)}}); !errors.Is(err, unix.EBADF) {
		t.Errorf("ApplyConnected on a bad fd: err = %v, want EBADF", err)
	}
}
