//go:build freebsd || netbsd || openbsd || dragonfly

package sockopt

import "golang.org/x/sys/unix"

// soLinger is the SO_LINGER flavour whose l_linger is in seconds.
const soLinger = unix.SO_LINGER
