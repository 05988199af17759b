//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sockopt

import (
	"errors"
	"net"
	"syscall"
)

// On this platform no option is implemented: every function returns
// errors.ErrUnsupported (Validate and ParseBind still work).

func unsupported(option string) error {
	return &OptionError{Option: option, Reason: "not implemented on this platform", Err: errors.ErrUnsupported}
}

func SetNoDelay(fd int, on bool) error           { return unsupported("TCP_NODELAY") }
func NoDelay(fd int) (bool, error)               { return false, unsupported("TCP_NODELAY") }
func SetSendBuffer(fd int, bytes int) error      { return unsupported("SO_SNDBUF") }
func SendBuffer(fd int) (int, error)             { return 0, unsupported("SO_SNDBUF") }
func SetRecvBuffer(fd int, bytes int) error      { return unsupported("SO_RCVBUF") }
func RecvBuffer(fd int) (int, error)             { return 0, unsupported("SO_RCVBUF") }
func SetLinger(fd int, seconds int) error        { return unsupported("SO_LINGER") }
func SetKeepAlive(fd int, on bool) error         { return unsupported("SO_KEEPALIVE") }
func KeepAlive(fd int) (bool, error)             { return false, unsupported("SO_KEEPALIVE") }
func Bind(fd int, addr string, family int) error { return unsupported("bind") }

func Linger(fd int) (seconds int, on bool, err error) { return 0, false, unsupported("SO_LINGER") }

func (o Options) Control(network, address string, c syscall.RawConn) error {
	return unsupported("network")
}

func (o Options) ApplyConnected(c syscall.Conn) error { return unsupported("network") }

func (o Options) Dialer() *net.Dialer {
	return &net.Dialer{Control: o.Control, KeepAlive: -1}
}
