package connstr

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/fastpub/fastpub/sockopt"
)

// MaxUnixPath is the longest unix socket path accepted, in bytes: sun_path
// holds 108 bytes including the terminating NUL.
const MaxUnixPath = 107

// maxLinger is the largest tcp_linger/unix_linger: the official client
// stores it in an unsigned short.
const maxLinger = math.MaxUint16

// URI is a parsed AMPS connection string. The zero value is not a valid
// connection string; obtain one from Parse. URI is comparable with ==.
type URI struct {
	Transport   string // "tcp", "tcps" or "unix"
	User        string // "" when the URI has no user info; never %-decoded
	Password    string // never printed by String or by errors; never %-decoded
	HasPassword bool   // the user info had a ':' (the password may be empty)
	Host        string // without brackets for IPv6 ("::1"); ignored for unix (may be empty there)
	Port        string // decimal, normalised ("09007" -> "9007"); 1-65535 for tcp/tcps, ignored (0 allowed) for unix
	Protocol    string // always "amps"
	MessageType string // e.g. "json"; "" when not given
	// Path is the unix socket path from ?path= (alias ?bind=), at most
	// MaxUnixPath bytes; "" for tcp/tcps. On Linux a path starting with '@'
	// names an abstract socket (Go's convention), unlike the C client.
	Path string
	// Socket holds tcp_* or unix_* options, and bind for tcp/tcps. Values
	// the official client treats as "not set" stay zero: tcp_sndbuf=0,
	// tcp_rcvbuf=0 and tcp_linger=0 leave the OS default.
	Socket sockopt.Options
	// IPPrefer is the address family to resolve first, falling back to the
	// other: "ipv4" (default, set by Parse for tcp/tcps) or "ipv6"; "" for unix.
	IPPrefer string
	// Pretty is the pretty option; the client sends it as logon option
	// "pretty".
	Pretty bool
	// SNI is the TLS server name from ?sni= (tcps only); "" when not given.
	SNI string
}

// Address returns what to pass to net.Dial: ("tcp", "host:port") for tcp
// and tcps (net.JoinHostPort, so IPv6 hosts get their brackets back; the
// TLS handshake of tcps is the caller's) and ("unix", Path) for unix. The
// caller applies IPPrefer when resolving a host name.
func (u *URI) Address() (network, address string) {
	if u.Transport == "unix" {
		return "unix", u.Path
	}
	return "tcp", net.JoinHostPort(u.Host, u.Port)
}

// String returns the canonical form of u with the password replaced by a
// mask ("xxxxx", or "*****"/"#####" when the password contains 'x'), and any
// other occurrence of the password text masked as well. The canonical form
// is transport://[user[:pw]@]host:port/amps[/type][?options] with the extra
// path segments dropped and the options in a fixed order, each written only
// when it differs from its default. Unless the password text occurs
// elsewhere, Parse(u.String()) returns u with the password replaced by the
// mask.
func (u *URI) String() string {
	if u == nil {
		return "<nil>"
	}
	mask := maskFor(u.Password)
	return scrub(u.format(mask), u.Password, mask)
}

// Format makes every fmt verb print the redacted String, also for a URI
// held by value (fmt does not find the pointer method String on a
// non-addressable value and would otherwise print the Password field) and
// for %#v. %q quotes it.
func (u URI) Format(f fmt.State, verb rune) {
	s := u.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	f.Write([]byte(s))
}

// LogValue makes log/slog record the redacted String instead of the fields.
func (u URI) LogValue() slog.Value { return slog.StringValue(u.String()) }

// format writes the canonical form; the password is written as mask unless
// mask is "" (tests use that to check the round trip).
func (u *URI) format(mask string) string {
	var b strings.Builder
	b.Grow(64 + len(u.Host) + len(u.Path))
	b.WriteString(u.Transport)
	b.WriteString("://")
	if u.User != "" || u.HasPassword {
		b.WriteString(u.User)
		if u.HasPassword {
			b.WriteByte(':')
			if mask != "" {
				b.WriteString(mask)
			} else {
				b.WriteString(u.Password)
			}
		}
		b.WriteByte('@')
	}
	if strings.IndexByte(u.Host, ':') >= 0 {
		b.WriteByte('[')
		b.WriteString(u.Host)
		b.WriteByte(']')
	} else {
		b.WriteString(u.Host)
	}
	b.WriteByte(':')
	b.WriteString(u.Port)
	b.WriteByte('/')
	b.WriteString(u.Protocol)
	if u.MessageType != "" {
		b.WriteByte('/')
		b.WriteString(u.MessageType)
	}
	sep := byte('?')
	opt := func(key, value string) {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(value)
	}
	toggle := func(key string, t sockopt.Toggle) {
		switch t {
		case sockopt.On:
			opt(key, "true")
		case sockopt.Off:
			opt(key, "false")
		}
	}
	positive := func(key string, n int) {
		if n > 0 {
			opt(key, strconv.Itoa(n))
		}
	}
	o := u.Socket
	if u.Transport == "unix" {
		if u.Path != "" {
			opt("path", u.Path)
		}
		toggle("unix_nodelay", o.NoDelay)
		toggle("unix_keepalive", o.KeepAlive)
		positive("unix_sndbuf", o.SendBuffer)
		positive("unix_rcvbuf", o.RecvBuffer)
		positive("unix_linger", o.Linger)
	} else {
		toggle("tcp_nodelay", o.NoDelay)
		toggle("tcp_keepalive", o.KeepAlive)
		positive("tcp_sndbuf", o.SendBuffer)
		positive("tcp_rcvbuf", o.RecvBuffer)
		positive("tcp_linger", o.Linger)
		if o.Bind != "" {
			opt("bind", o.Bind)
		}
		if u.IPPrefer != "" && u.IPPrefer != "ipv4" {
			opt("ip_protocol_prefer", u.IPPrefer)
		}
		if u.SNI != "" {
			opt("sni", u.SNI)
		}
	}
	if u.Pretty {
		opt("pretty", "true")
	}
	return b.String()
}

// Parse parses an AMPS connection string (amps-protocol.md §1):
//
//	transport://[user[:password]@]host:port/[extra/...]amps[/message_type][/][?key=value[&key=value...]]
//
// See the package documentation for every rule and option. On failure it
// returns nil and an *Error (errors.Is(err, ErrInvalidURI) always holds).
func Parse(s string) (*URI, error) {
	p := parser{s: s}
	if err := p.parse(); err != nil {
		return nil, err
	}
	u := p.u
	return &u, nil
}

type parser struct {
	s string
	u URI
}

func (p *parser) fail(part string, key, value field, reason string, sentinel error) error {
	return newError(p.s, part, key, value, reason, sentinel)
}

func (p *parser) parse() error {
	s := p.s
	if s == "" {
		return p.fail("uri", noField, noField, "empty connection string", ErrInvalidURI)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return p.fail("uri", noField, at(i, i+1), "control character at offset "+strconv.Itoa(i), ErrInvalidURI)
		}
	}

	// transport
	i := strings.Index(s, "://")
	if i < 0 {
		return p.fail("transport", noField, noField, `missing "://" after the transport`, ErrInvalidURI)
	}
	switch tr := s[:i]; tr {
	case "tcp", "tcps", "unix":
		p.u.Transport = tr
	case "":
		return p.fail("transport", noField, noField, "missing transport (tcp, tcps or unix)", ErrInvalidURI)
	default:
		v := at(0, i)
		if strings.ContainsAny(tr, ":@") {
			v = field{lit: "?"} // too mangled to echo: it may hold credentials
		}
		return p.fail("transport", noField, v, "want tcp, tcps or unix", ErrUnsupportedTransport)
	}

	// authority: [user[:password]@]host:port up to the first '/'
	start := i + 3
	slash := strings.IndexByte(s[start:], '/')
	if slash < 0 {
		return p.fail("path", noField, noField, "missing /amps path after host:port", ErrInvalidURI)
	}
	authEnd := start + slash
	hostLo := start
	if a := strings.LastIndexByte(s[start:authEnd], '@'); a >= 0 {
		userinfo := s[start : start+a]
		hostLo = start + a + 1
		user := userinfo
		if c := strings.IndexByte(userinfo, ':'); c >= 0 {
			user = userinfo[:c]
			p.u.Password = userinfo[c+1:]
			p.u.HasPassword = true
		}
		if user == "" {
			return p.fail("user", noField, noField, `empty user name before "@"`, ErrInvalidURI)
		}
		p.u.User = user
	}
	if err := p.hostPort(hostLo, authEnd); err != nil {
		return err
	}

	// path: scan the segments from the end for amps[/message_type]
	pathEnd := len(s)
	query := -1
	if q := strings.IndexByte(s[authEnd:], '?'); q >= 0 {
		query = authEnd + q
		pathEnd = query
	}
	if err := p.path(authEnd+1, pathEnd); err != nil {
		return err
	}

	// query
	if query >= 0 {
		if err := p.query(query + 1); err != nil {
			return err
		}
	}
	if p.u.Transport == "unix" {
		if p.u.Path == "" {
			return p.fail("query", field{lit: "path"}, noField, "the unix transport requires ?path=<socket path>", ErrInvalidURI)
		}
	} else if p.u.IPPrefer == "" {
		p.u.IPPrefer = "ipv4"
	}
	return nil
}

// hostPort parses s[lo:hi] as host:port or [v6]:port.
func (p *parser) hostPort(lo, hi int) error {
	s := p.s
	hp := s[lo:hi]
	if hp == "" {
		return p.fail("host", noField, noField, "missing host:port", ErrInvalidURI)
	}
	portLo := 0
	if hp[0] == '[' {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return p.fail("host", noField, at(lo, hi), `missing "]" after the IPv6 address`, ErrInvalidURI)
		}
		host := hp[1:end]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return p.fail("host", noField, at(lo+1, lo+end), "not an IPv6 address (brackets hold IPv6 addresses only)", ErrInvalidURI)
		}
		switch rest := hp[end+1:]; {
		case rest == "":
			return p.fail("port", noField, noField, `missing ":port" after the host`, ErrInvalidURI)
		case rest[0] != ':':
			return p.fail("host", noField, at(lo, hi), `unexpected text after "]"`, ErrInvalidURI)
		}
		p.u.Host = host
		portLo = lo + end + 2
	} else {
		c := strings.IndexByte(hp, ':')
		if c < 0 {
			return p.fail("port", noField, noField, `missing ":port" after the host`, ErrInvalidURI)
		}
		if strings.IndexByte(hp[c+1:], ':') >= 0 {
			return p.fail("host", noField, at(lo, hi), "an IPv6 address must be in brackets", ErrInvalidURI)
		}
		host := hp[:c]
		if host == "" && p.u.Transport != "unix" {
			return p.fail("host", noField, noField, "empty host", ErrInvalidURI)
		}
		if strings.ContainsAny(host, " []?") {
			return p.fail("host", noField, at(lo, lo+c), "invalid character in host", ErrInvalidURI)
		}
		p.u.Host = host
		portLo = lo + c + 1
	}
	port := s[portLo:hi]
	if port == "" {
		return p.fail("port", noField, noField, "empty port", ErrInvalidURI)
	}
	n, ok := decimal(port, math.MaxUint16)
	if !ok {
		if isDigits(port) {
			return p.fail("port", noField, at(portLo, hi), "out of range (max 65535)", ErrInvalidURI)
		}
		return p.fail("port", noField, at(portLo, hi), "not a decimal number", ErrInvalidURI)
	}
	if n == 0 && p.u.Transport != "unix" {
		return p.fail("port", noField, at(portLo, hi), "port 0 is not connectable", ErrInvalidURI)
	}
	p.u.Port = strconv.Itoa(n)
	return nil
}

// legacyProtocols are the protocols of the official client other than amps.
var legacyProtocols = map[string]bool{"fix": true, "nvfix": true, "xml": true}

// path parses s[lo:hi], the path after the '/' that ends host:port.
func (p *parser) path(lo, hi int) error {
	s := p.s
	if hi > lo && s[hi-1] == '/' {
		hi-- // one trailing '/' is allowed, as in the official client
	}
	if lo >= hi {
		return p.fail("protocol", noField, noField, "missing protocol: want /amps or /amps/<message type>", ErrInvalidURI)
	}
	// The last two segments decide; earlier ones are extra and ignored.
	var last, prev span = none, none
	for segLo := lo; segLo <= hi; {
		segHi := hi
		if j := strings.IndexByte(s[segLo:hi], '/'); j >= 0 {
			segHi = segLo + j
		}
		seg := s[segLo:segHi]
		switch {
		case seg == "":
			return p.fail("path", noField, at(lo, hi), "empty path segment", ErrInvalidURI)
		case strings.IndexByte(seg, '@') >= 0:
			return p.fail("path", noField, at(segLo, segHi), `"@" in the path (a password may not contain "/")`, ErrInvalidURI)
		case strings.IndexByte(seg, ' ') >= 0:
			return p.fail("path", noField, at(segLo, segHi), "space in the path", ErrInvalidURI)
		}
		prev, last = last, span{segLo, segHi}
		segLo = segHi + 1
	}
	switch {
	case prev.valid() && s[prev.lo:prev.hi] == "amps":
		p.u.Protocol = "amps"
		p.u.MessageType = s[last.lo:last.hi]
	case s[last.lo:last.hi] == "amps":
		p.u.Protocol = "amps"
	case legacyProtocols[s[last.lo:last.hi]]:
		return p.fail("protocol", noField, at(last.lo, last.hi), "legacy protocol: fastpub speaks amps only", ErrUnsupportedProtocol)
	default:
		return p.fail("protocol", noField, at(last.lo, last.hi), "unknown protocol: want /amps or /amps/<message type>", ErrInvalidURI)
	}
	return nil
}

// query parses key=value pairs separated by '&' from s[lo:]. An empty query
// ("?") and one trailing '&' are allowed; duplicate keys: the last one wins,
// as the official client applies them in order.
func (p *parser) query(lo int) error {
	s := p.s
	for pos := lo; pos < len(s); {
		end := len(s)
		if j := strings.IndexByte(s[pos:], '&'); j >= 0 {
			end = pos + j
		}
		pair := s[pos:end]
		if pair == "" {
			return p.fail("query", noField, noField, `empty option ("&&" or "?&")`, ErrInvalidURI)
		}
		eq := strings.IndexByte(pair, '=')
		switch {
		case eq < 0:
			return p.fail("query", at(pos, end), noField, `missing "=value"`, ErrInvalidURI)
		case eq == 0:
			return p.fail("query", noField, at(pos+1, end), "empty option name", ErrInvalidURI)
		}
		if err := p.option(span{pos, pos + eq}, span{pos + eq + 1, end}); err != nil {
			return err
		}
		pos = end + 1
	}
	return nil
}

func (p *parser) option(k, v span) error {
	s := p.s
	key, val := s[k.lo:k.hi], s[v.lo:v.hi]
	kf, vf := at(k.lo, k.hi), at(v.lo, v.hi)
	bad := func(reason string, sentinel error) error {
		return p.fail("query", kf, vf, reason, sentinel)
	}
	boolean := func() (bool, error) {
		switch val {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		n, ok := decimal(val, math.MaxInt32)
		if !ok {
			if isDigits(val) {
				return false, bad("out of range", ErrInvalidValue)
			}
			return false, bad("want true, false or an unsigned decimal integer", ErrInvalidValue)
		}
		return n != 0, nil
	}
	toggle := func(t *sockopt.Toggle) error {
		b, err := boolean()
		if err != nil {
			return err
		}
		*t = sockopt.Off
		if b {
			*t = sockopt.On
		}
		return nil
	}
	integer := func(dst *int, max int) error {
		n, ok := decimal(val, max)
		if !ok {
			if isDigits(val) {
				return bad("out of range (max "+strconv.Itoa(max)+")", ErrInvalidValue)
			}
			return bad("want an unsigned decimal integer", ErrInvalidValue)
		}
		*dst = n
		return nil
	}

	tcp := p.u.Transport != "unix"
	o := &p.u.Socket
	if key == "pretty" {
		b, err := boolean()
		p.u.Pretty = b
		return err
	}
	if tcp {
		switch key {
		case "tcp_nodelay":
			return toggle(&o.NoDelay)
		case "tcp_keepalive":
			return toggle(&o.KeepAlive)
		case "tcp_sndbuf":
			return integer(&o.SendBuffer, math.MaxInt32)
		case "tcp_rcvbuf":
			return integer(&o.RecvBuffer, math.MaxInt32)
		case "tcp_linger":
			return integer(&o.Linger, maxLinger)
		case "bind":
			if _, err := sockopt.ParseBind(val); err != nil {
				reason := "want addr, addr:port, [v6addr] or [v6addr]:port"
				if oe, ok := err.(*sockopt.OptionError); ok && oe.Reason != "" {
					reason = oe.Reason + "; " + reason
				}
				return bad(reason, ErrInvalidValue)
			}
			o.Bind = val
			return nil
		case "ip_protocol_prefer":
			if val != "ipv4" && val != "ipv6" {
				return bad("want ipv4 or ipv6", ErrInvalidValue)
			}
			p.u.IPPrefer = val
			return nil
		case "compression":
			return bad("stream compression is not implemented by fastpub", ErrUnsupportedOption)
		case "http_preflight":
			b, err := boolean()
			if err != nil {
				return err
			}
			if b {
				return bad("HTTP preflight is not implemented by fastpub", ErrUnsupportedOption)
			}
			return nil // false is the default: nothing to do
		case "sni":
			if p.u.Transport != "tcps" {
				break
			}
			if val == "" || strings.IndexByte(val, ' ') >= 0 {
				return bad("want a host name", ErrInvalidValue)
			}
			p.u.SNI = val
			return nil
		}
	} else {
		switch key {
		case "path", "bind":
			switch {
			case val == "":
				return bad("empty socket path", ErrInvalidValue)
			case len(val) > MaxUnixPath:
				return bad("longer than "+strconv.Itoa(MaxUnixPath)+" bytes", ErrInvalidValue)
			}
			p.u.Path = val
			return nil
		case "unix_nodelay":
			return toggle(&o.NoDelay)
		case "unix_keepalive":
			return toggle(&o.KeepAlive)
		case "unix_sndbuf":
			return integer(&o.SendBuffer, math.MaxInt32)
		case "unix_rcvbuf":
			return integer(&o.RecvBuffer, math.MaxInt32)
		case "unix_linger":
			return integer(&o.Linger, maxLinger)
		}
	}
	reason := "not an option of transport " + p.u.Transport
	switch {
	case tcp && strings.HasPrefix(key, "unix_"):
		reason = "unix_* options apply to unix:// only; tcp uses tcp_*"
	case !tcp && (strings.HasPrefix(key, "tcp_") || tcpOnly[key]):
		reason = "applies to tcp:// and tcps:// only; unix uses unix_*"
	case key == "sni":
		reason = "sni applies to tcps:// only"
	}
	return bad(reason, ErrUnknownOption)
}

var tcpOnly = map[string]bool{"ip_protocol_prefer": true, "compression": true, "http_preflight": true, "sni": true}

// decimal parses a non-empty string of ASCII digits whose value is at most
// max.
func decimal(s string, max int) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int(c - '0')
		if n > (max-d)/10 { // n*10+d > max, checked without overflowing int
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
