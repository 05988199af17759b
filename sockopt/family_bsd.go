//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package sockopt

import (
	"os"

	"golang.org/x/sys/unix"
)

// socketFamily returns the address family of fd from getsockname: these
// kernels have no SO_DOMAIN (or not on every supported release).
func socketFamily(fd int) (int, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, os.NewSyscallError("getsockname", err)
	}
	switch sa.(type) {
	case *unix.SockaddrInet4:
		return unix.AF_INET, nil
	case *unix.SockaddrInet6:
		return unix.AF_INET6, nil
	case *unix.SockaddrUnix:
		return unix.AF_UNIX, nil
	}
	return unix.AF_UNSPEC, nil
}
