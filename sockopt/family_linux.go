package sockopt

import (
	"os"

	"golang.org/x/sys/unix"
)

// soLinger is the SO_LINGER flavour whose l_linger is in seconds.
const soLinger = unix.SO_LINGER

// socketFamily returns the address family of fd (AF_INET, AF_INET6,
// AF_UNIX) with one getsockopt(SO_DOMAIN), as the official client does.
func socketFamily(fd int) (int, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	return v, os.NewSyscallError("getsockopt", err)
}
