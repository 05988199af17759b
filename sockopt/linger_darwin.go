package sockopt

import "golang.org/x/sys/unix"

// soLinger: on darwin SO_LINGER counts clock ticks; SO_LINGER_SEC counts
// seconds, which is what SetLinger and Linger promise.
const soLinger = unix.SO_LINGER_SEC
