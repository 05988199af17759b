// Package connstr parses AMPS connection strings as the official 60East C
// client (uri.c, tcp.c, unix.c, 5.3.5.1) does, with stricter validation, and
// prints them back with the password redacted.
//
// # Grammar
//
//	transport://[user[:password]@]host:port/[extra/...]amps[/message_type][/][?key=value[&key=value...]]
//
// Rules:
//
//   - transport: "tcp", "tcps" or "unix", exactly (ErrUnsupportedTransport
//     otherwise, e.g. for ws/wss).
//   - user info: optional; split at the last '@' before the first '/' and at
//     the first ':' (HasPassword tells "user:@" from "user@"). No
//     %-decoding. The user name must not be empty; a password cannot contain
//     '/'.
//   - host:port: required for every transport. An IPv6 literal must be in
//     brackets ("[::1]:9007" gives Host "::1"). Port is decimal, 1-65535 for
//     tcp/tcps; for unix host and port are ignored (by convention
//     "localhost:0") and the host may be empty.
//   - path: one trailing '/' is allowed. If the next-to-last segment is
//     "amps", the protocol is amps and the last segment is the message type;
//     else if the last segment is "amps", the protocol is amps with no
//     message type; earlier segments are extra and ignored
//     ("/foo/bar/amps/json"). Otherwise a last segment fix, nvfix or xml is
//     ErrUnsupportedProtocol and anything else ErrInvalidURI. Segments must
//     be non-empty and contain no '@' or space.
//   - query: key=value pairs separated by '&', taken literally (no
//     decoding); "?" alone and one trailing '&' are allowed; the last of
//     duplicate keys wins. Boolean values are "true", "false" or an unsigned
//     decimal integer (non-zero = true); integer values are unsigned decimal
//     integers. Anything else is ErrInvalidValue naming the key; an unknown
//     key is ErrUnknownOption naming the key.
//   - ASCII control characters are rejected anywhere.
//
// # Options
//
// tcp and tcps (Socket is a sockopt.Options):
//
//	tcp_nodelay=bool        Socket.NoDelay    (default: on, fastpub's choice; see sockopt)
//	tcp_keepalive=bool      Socket.KeepAlive  (default: on, as the official client)
//	tcp_sndbuf=int          Socket.SendBuffer (bytes; 0 or absent: OS default)
//	tcp_rcvbuf=int          Socket.RecvBuffer (bytes; 0 or absent: OS default)
//	tcp_linger=int          Socket.Linger     (seconds, max 65535; 0 or absent: off)
//	bind=addr[:port]        Socket.Bind       (numeric; [v6addr][:port] for IPv6)
//	ip_protocol_prefer=ipv4|ipv6  IPPrefer    (default ipv4)
//	pretty=bool             Pretty
//	sni=host                SNI               (tcps only)
//	compression=...         ErrUnsupportedOption (any value)
//	http_preflight=bool     false accepted (the default); true is ErrUnsupportedOption
//
// unix:
//
//	path=/socket/path       Path (alias bind=; required; at most 107 bytes)
//	unix_nodelay=bool       Socket.NoDelay (accepted; not applicable to unix sockets, sockopt skips it)
//	unix_keepalive=bool     Socket.KeepAlive
//	unix_sndbuf=int, unix_rcvbuf=int, unix_linger=int
//	pretty=bool             Pretty
//
// tcp_* keys (and ip_protocol_prefer, compression, http_preflight, sni) on
// unix, and unix_* keys on tcp/tcps, are ErrUnknownOption, as in the
// official client.
//
// # Errors and redaction
//
// Parse returns an *Error; errors.Is(err, ErrInvalidURI) holds for all of
// them and errors.Is(err, ErrUnknownOption) etc. for the specific kind;
// errors.As(err, &e) gives the Key of a bad option. Neither Error() nor
// URI.String() contains the password: see Error for the exact contract.
//
// Parse allocates (it copies nothing but builds the result); it is meant for
// connect time, not for a hot path.
package connstr
