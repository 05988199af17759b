// Package sockopt sets and reads the raw socket options of an AMPS
// connection (TCP_NODELAY, SO_SNDBUF, SO_RCVBUF, SO_LINGER, SO_KEEPALIVE and
// the local bind address) through golang.org/x/sys/unix.
//
// There is one function per option, named after it (SetNoDelay, NoDelay,
// SetSendBuffer, SendBuffer, ...). Each takes a raw file descriptor, does
// exactly one system call and returns errno wrapped in an *os.SyscallError
// ("setsockopt", "getsockopt", "bind"), so errors.Is(err, unix.EBADF) works.
// Invalid arguments are rejected before any system call with an *OptionError
// that wraps ErrInvalidValue or ErrInvalidBind.
//
// Options is the set of transport options of an AMPS connection string
// (see package connstr). It is applied in two steps:
//
//  1. Options.Control, installed as net.Dialer.Control (Options.Dialer does
//     that), runs on the raw socket after socket(2) and BEFORE connect(2): it
//     sets SO_KEEPALIVE, SO_SNDBUF, SO_RCVBUF (which must be set before
//     connect to size the TCP window), SO_LINGER, TCP_NODELAY and binds the
//     local address.
//  2. Options.ApplyConnected runs on the connected conn and re-applies what
//     Go's net package changes after connect: Go forces TCP_NODELAY on for
//     every TCP conn, so NoDelay: Off only takes effect after
//     ApplyConnected; it also re-applies SO_KEEPALIVE in case the conn was
//     dialled by a net.Dialer whose KeepAlive is not negative.
//
// Defaults: NoDelay on (fastpub's choice: the writer batches by itself; the
// official C client leaves Nagle on), KeepAlive on (as the official C client,
// which enables SO_KEEPALIVE before it applies URI options), everything else
// left at the OS default (SO_LINGER off, kernel buffer sizes, no bind).
//
// Unix-domain sockets: SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE (Default: on, as
// the official client) and SO_LINGER are applied. Linux accepts all four on
// AF_UNIX and reports them back with getsockopt (the tests check this); the
// buffer sizes bound the data in flight, while keepalive and linger are
// stored but not acted on by the AF_UNIX code. TCP_NODELAY is skipped
// silently: Linux rejects it on AF_UNIX with EOPNOTSUPP (the official C
// client passes unix_nodelay to setsockopt and therefore fails the connect
// on Linux). A non-empty Bind is an error on a unix socket
// (ErrNotApplicable); ApplyConnected does nothing on a unix conn.
//
// Platforms: Linux is the reference. The implementation builds on darwin,
// the BSDs and Linux; elsewhere every function returns errors.ErrUnsupported.
// Linux doubles the SO_SNDBUF/SO_RCVBUF value it is given (to account for
// bookkeeping overhead), clamps it to net.core.wmem_max/rmem_max and reports
// the doubled value back; other kernels report the value as set.
//
// Nothing in this package allocates on a hot path: options are applied once
// per connection.
package sockopt
