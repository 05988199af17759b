package connstr_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/sockopt"
)

// tcpURI returns the URI Parse gives for tcp://host:port/amps/<mt>, to be
// adjusted by each test case.
func tcpURI(host, port, mt string) connstr.URI {
	return connstr.URI{Transport: "tcp", Host: host, Port: port, Protocol: "amps", MessageType: mt, IPPrefer: "ipv4"}
}

func unixURI(path string) connstr.URI {
	return connstr.URI{Transport: "unix", Host: "localhost", Port: "0", Protocol: "amps", Path: path}
}

func with(u connstr.URI, f func(*connstr.URI)) connstr.URI {
	f(&u)
	return u
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want connstr.URI
	}{
		// transport, host, port, path
		{"tcp://localhost:9007/amps", tcpURI("localhost", "9007", "")},
		{"tcp://localhost:9007/amps/json", tcpURI("localhost", "9007", "json")},
		{"tcps://amps.example.com:9443/amps/json", with(tcpURI("amps.example.com", "9443", "json"), func(u *connstr.URI) { u.Transport = "tcps" })},
		{"tcp://10.0.0.1:1/amps/fix", tcpURI("10.0.0.1", "1", "fix")},
		{"tcp://h:65535/amps/composite-json-binary", tcpURI("h", "65535", "composite-json-binary")},
		{"tcp://h:09007/amps", tcpURI("h", "9007", "")},
		{"tcp://[::1]:9007/amps/json", tcpURI("::1", "9007", "json")},
		{"tcp://[fe80::1%eth0]:9007/amps", tcpURI("fe80::1%eth0", "9007", "")},
		{"tcp://[::ffff:127.0.0.1]:9007/amps", tcpURI("::ffff:127.0.0.1", "9007", "")},
		{"tcp://h:9007/foo/bar/amps/json", tcpURI("h", "9007", "json")},
		{"tcp://h:9007/amps/json/", tcpURI("h", "9007", "json")},
		{"tcp://h:9007/amps/", tcpURI("h", "9007", "")},
		{"tcp://h:9007/json/amps", tcpURI("h", "9007", "")},
		{"tcp://h:9007/amps/amps", tcpURI("h", "9007", "amps")},
		{"tcp://h:9007/xml/amps/nvfix", tcpURI("h", "9007", "nvfix")},
		{"tcp://h:9007/amps/json?", tcpURI("h", "9007", "json")},
		{"tcp://h:9007/amps/json/?pretty=true", with(tcpURI("h", "9007", "json"), func(u *connstr.URI) { u.Pretty = true })},
		{"tcp://h:9007/amps?pretty=1&", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.Pretty = true })},
		// user info
		{"tcp://alice@h:9007/amps", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.User = "alice" })},
		{"tcp://alice:s3cret@h:9007/amps", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.User, u.Password, u.HasPassword = "alice", "s3cret", true })},
		{"tcp://JohnDoe:@h:9007/amps", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.User, u.HasPassword = "JohnDoe", true })},
		{"tcp://a:p:w@?&=#%41@h:9007/amps", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.User, u.Password, u.HasPassword = "a", "p:w@?&=#%41", true })},
		{"tcp://me@corp:pw@h:9007/amps", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.User, u.Password, u.HasPassword = "me@corp", "pw", true })},
		{"tcp://u%40x:p%20w@h:9007/amps", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.User, u.Password, u.HasPassword = "u%40x", "p%20w", true })},
		{"tcp://u:pw@[::1]:9007/amps", with(tcpURI("::1", "9007", ""), func(u *connstr.URI) { u.User, u.Password, u.HasPassword = "u", "pw", true })},
		{"tcp://u:pass word@h:9007/amps", with(tcpURI("h", "9007", ""), func(u *connstr.URI) { u.User, u.Password, u.HasPassword = "u", "pass word", true })},
		// tcp options
		{"tcp://h:1/amps?tcp_nodelay=true", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.NoDelay = sockopt.On })},
		{"tcp://h:1/amps?tcp_nodelay=false", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.NoDelay = sockopt.Off })},
		{"tcp://h:1/amps?tcp_nodelay=0", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.NoDelay = sockopt.Off })},
		{"tcp://h:1/amps?tcp_nodelay=7", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.NoDelay = sockopt.On })},
		{"tcp://h:1/amps?tcp_nodelay=0002147483647", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.NoDelay = sockopt.On })},
		{"tcp://h:1/amps?tcp_keepalive=false", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.KeepAlive = sockopt.Off })},
		{"tcp://h:1/amps?tcp_keepalive=1", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.KeepAlive = sockopt.On })},
		{"tcp://h:1/amps?tcp_sndbuf=1048576", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.SendBuffer = 1048576 })},
		{"tcp://h:1/amps?tcp_sndbuf=0", tcpURI("h", "1", "")},
		{"tcp://h:1/amps?tcp_rcvbuf=2147483647", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.RecvBuffer = 2147483647 })},
		{"tcp://h:1/amps?tcp_linger=10", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.Linger = 10 })},
		{"tcp://h:1/amps?tcp_linger=0", tcpURI("h", "1", "")},
		{"tcp://h:1/amps?tcp_linger=65535", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.Linger = 65535 })},
		{"tcp://h:1/amps?bind=127.0.0.1", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.Bind = "127.0.0.1" })},
		{"tcp://h:1/amps?bind=127.0.0.1:5000", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.Bind = "127.0.0.1:5000" })},
		{"tcp://h:1/amps?bind=[::1]", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.Bind = "[::1]" })},
		{"tcp://h:1/amps?bind=[::1]:0", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.Bind = "[::1]:0" })},
		{"tcp://h:1/amps?ip_protocol_prefer=ipv6", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.IPPrefer = "ipv6" })},
		{"tcp://h:1/amps?ip_protocol_prefer=ipv4", tcpURI("h", "1", "")},
		{"tcp://h:1/amps?pretty=false", tcpURI("h", "1", "")},
		{"tcp://h:1/amps?pretty=true", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Pretty = true })},
		{"tcp://h:1/amps?http_preflight=false", tcpURI("h", "1", "")},
		{"tcp://h:1/amps?http_preflight=0", tcpURI("h", "1", "")},
		{"tcps://h:1/amps?sni=amps.example.com", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Transport, u.SNI = "tcps", "amps.example.com" })},
		{"tcp://h:1/amps?tcp_nodelay=true&tcp_nodelay=false", with(tcpURI("h", "1", ""), func(u *connstr.URI) { u.Socket.NoDelay = sockopt.Off })},
		{
			"tcps://u:p@h:1/x/amps/json/?tcp_nodelay=false&tcp_keepalive=false&tcp_sndbuf=65536&tcp_rcvbuf=131072&tcp_linger=5&bind=[::1]:0&ip_protocol_prefer=ipv6&pretty=true&sni=h&http_preflight=false",
			connstr.URI{
				Transport: "tcps", User: "u", Password: "p", HasPassword: true, Host: "h", Port: "1", Protocol: "amps", MessageType: "json",
				Socket:   sockopt.Options{NoDelay: sockopt.Off, KeepAlive: sockopt.Off, SendBuffer: 65536, RecvBuffer: 131072, Linger: 5, Bind: "[::1]:0"},
				IPPrefer: "ipv6", Pretty: true, SNI: "h",
			},
		},
		// unix
		{"unix://localhost:0/amps/json?path=/tmp/amps.sock", with(unixURI("/tmp/amps.sock"), func(u *connstr.URI) { u.MessageType = "json" })},
		{"unix://localhost:0/amps?bind=/tmp/amps.sock", unixURI("/tmp/amps.sock")},
		{"unix://localhost:0/amps?path=/a&bind=/b", unixURI("/b")},
		{"unix://:0/amps?path=/a", with(unixURI("/a"), func(u *connstr.URI) { u.Host = "" })},
		{"unix://localhost:9007/amps?path=/a", with(unixURI("/a"), func(u *connstr.URI) { u.Port = "9007" })},
		{"unix://localhost:0/amps?path=/tmp/my dir/a=b?c@d.sock", unixURI("/tmp/my dir/a=b?c@d.sock")},
		{"unix://localhost:0/amps?path=/" + strings.Repeat("p", 106), unixURI("/" + strings.Repeat("p", 106))},
		{"unix://u:pw@localhost:0/amps?path=/a", with(unixURI("/a"), func(u *connstr.URI) { u.User, u.Password, u.HasPassword = "u", "pw", true })},
		{
			"unix://localhost:0/amps?path=/a&unix_nodelay=true&unix_keepalive=false&unix_sndbuf=1&unix_rcvbuf=2&unix_linger=3&pretty=1",
			with(unixURI("/a"), func(u *connstr.URI) {
				u.Socket = sockopt.Options{NoDelay: sockopt.On, KeepAlive: sockopt.Off, SendBuffer: 1, RecvBuffer: 2, Linger: 3}
				u.Pretty = true
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := connstr.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if *got != tt.want {
				t.Fatalf("Parse =\n  %#v\nwant\n  %#v", fields(*got), fields(tt.want))
			}
		})
	}
}

// fields prints every field, password included: test output only.
type fields connstr.URI

func TestParseErrors(t *testing.T) {
	long := "/" + strings.Repeat("p", 107) // 108 bytes
	tests := []struct {
		in       string
		sentinel error
		part     string
		key      string
		value    string
	}{
		{"", connstr.ErrInvalidURI, "uri", "", ""},
		{"tcp://h:9007/amps/json\n", connstr.ErrInvalidURI, "uri", "", "\n"},
		{"tcp://h:9007/amps\x00", connstr.ErrInvalidURI, "uri", "", "\x00"},
		{"localhost:9007/amps", connstr.ErrInvalidURI, "transport", "", ""},
		{"tcp:/h:9007/amps", connstr.ErrInvalidURI, "transport", "", ""},
		{"://h:9007/amps", connstr.ErrInvalidURI, "transport", "", ""},
		{"ws://h:9007/amps", connstr.ErrUnsupportedTransport, "transport", "", "ws"},
		{"wss://h:9007/amps", connstr.ErrUnsupportedTransport, "transport", "", "wss"},
		{"TCP://h:9007/amps", connstr.ErrUnsupportedTransport, "transport", "", "TCP"},
		{"udp://h:9007/amps", connstr.ErrUnsupportedTransport, "transport", "", "udp"},
		{"tcp://h:9007", connstr.ErrInvalidURI, "path", "", ""},
		{"tcp://h:9007?tcp_nodelay=true", connstr.ErrInvalidURI, "path", "", ""},
		{"tcp://@h:9007/amps", connstr.ErrInvalidURI, "user", "", ""},
		{"tcp://:pw@h:9007/amps", connstr.ErrInvalidURI, "user", "", ""},
		{"tcp:///amps", connstr.ErrInvalidURI, "host", "", ""},
		{"tcp://u@/amps", connstr.ErrInvalidURI, "host", "", ""},
		{"tcp://:9007/amps", connstr.ErrInvalidURI, "host", "", ""},
		{"tcp://h/amps", connstr.ErrInvalidURI, "port", "", ""},
		{"tcp://h:/amps", connstr.ErrInvalidURI, "port", "", ""},
		{"tcp://h:x/amps", connstr.ErrInvalidURI, "port", "", "x"},
		{"tcp://h:-1/amps", connstr.ErrInvalidURI, "port", "", "-1"},
		{"tcp://h:+1/amps", connstr.ErrInvalidURI, "port", "", "+1"},
		{"tcp://h:65536/amps", connstr.ErrInvalidURI, "port", "", "65536"},
		{"tcp://h:99999999999999999999/amps", connstr.ErrInvalidURI, "port", "", "99999999999999999999"},
		{"tcp://h:0/amps", connstr.ErrInvalidURI, "port", "", "0"},
		{"tcps://h:0/amps", connstr.ErrInvalidURI, "port", "", "0"},
		{"tcp://::1:9007/amps", connstr.ErrInvalidURI, "host", "", "::1:9007"},
		{"tcp://[::1:9007/amps", connstr.ErrInvalidURI, "host", "", "[::1:9007"},
		{"tcp://[::1]/amps", connstr.ErrInvalidURI, "port", "", ""},
		{"tcp://[::1]x:9007/amps", connstr.ErrInvalidURI, "host", "", "[::1]x:9007"},
		{"tcp://[127.0.0.1]:9007/amps", connstr.ErrInvalidURI, "host", "", "127.0.0.1"},
		{"tcp://[]:9007/amps", connstr.ErrInvalidURI, "host", "", ""},
		{"tcp://[host]:9007/amps", connstr.ErrInvalidURI, "host", "", "host"},
		{"tcp://a b:9007/amps", connstr.ErrInvalidURI, "host", "", "a b"},
		{"tcp://h]:9007/amps", connstr.ErrInvalidURI, "host", "", "h]"},
		{"tcp://h:9007/", connstr.ErrInvalidURI, "protocol", "", ""},
		{"tcp://h:9007//", connstr.ErrInvalidURI, "protocol", "", ""},
		{"tcp://h:9007/?pretty=true", connstr.ErrInvalidURI, "protocol", "", ""},
		{"tcp://h:9007/fix", connstr.ErrUnsupportedProtocol, "protocol", "", "fix"},
		{"tcp://h:9007/nvfix", connstr.ErrUnsupportedProtocol, "protocol", "", "nvfix"},
		{"tcp://h:9007/foo/xml/", connstr.ErrUnsupportedProtocol, "protocol", "", "xml"},
		{"tcp://h:9007/json", connstr.ErrInvalidURI, "protocol", "", "json"},
		{"tcp://h:9007/AMPS/json", connstr.ErrInvalidURI, "protocol", "", "json"},
		{"tcp://h:9007/amps/json/extra", connstr.ErrInvalidURI, "protocol", "", "extra"},
		{"tcp://h:9007/xamps/json", connstr.ErrInvalidURI, "protocol", "", "json"},
		{"tcp://h:9007//amps", connstr.ErrInvalidURI, "path", "", "/amps"},
		{"tcp://h:9007/amps//json", connstr.ErrInvalidURI, "path", "", "amps//json"},
		{"tcp://h:9007/amps/json//", connstr.ErrInvalidURI, "path", "", "amps/json/"},
		{"tcp://h:9007/amps/js on", connstr.ErrInvalidURI, "path", "", "js on"},
		// '@' after a URI without user info: the region up to it may be a
		// password containing '/', so the value is masked.
		{"tcp://h:9007/a@b/amps", connstr.ErrInvalidURI, "path", "", "xxxxx"},
		// query syntax
		{"tcp://h:1/amps?&", connstr.ErrInvalidURI, "query", "", ""},
		{"tcp://h:1/amps?&pretty=1", connstr.ErrInvalidURI, "query", "", ""},
		{"tcp://h:1/amps?pretty=1&&tcp_nodelay=1", connstr.ErrInvalidURI, "query", "", ""},
		{"tcp://h:1/amps?pretty=1&&", connstr.ErrInvalidURI, "query", "", ""},
		{"tcp://h:1/amps?pretty", connstr.ErrInvalidURI, "query", "pretty", ""},
		{"tcp://h:1/amps?=1", connstr.ErrInvalidURI, "query", "", "1"},
		// unknown options
		{"tcp://h:1/amps?foo=1", connstr.ErrUnknownOption, "query", "foo", "1"},
		{"tcp://h:1/amps?TCP_NODELAY=true", connstr.ErrUnknownOption, "query", "TCP_NODELAY", "true"},
		{"tcp://h:1/amps?unix_nodelay=true", connstr.ErrUnknownOption, "query", "unix_nodelay", "true"},
		{"tcp://h:1/amps?path=/tmp/s", connstr.ErrUnknownOption, "query", "path", "/tmp/s"},
		{"tcp://h:1/amps?sni=h", connstr.ErrUnknownOption, "query", "sni", "h"},
		{"tcp://h:1/amps?mt=json", connstr.ErrUnknownOption, "query", "mt", "json"},
		{"unix://h:0/amps?path=/a&tcp_nodelay=true", connstr.ErrUnknownOption, "query", "tcp_nodelay", "true"},
		{"unix://h:0/amps?path=/a&tcp_sndbuf=1", connstr.ErrUnknownOption, "query", "tcp_sndbuf", "1"},
		{"unix://h:0/amps?path=/a&ip_protocol_prefer=ipv4", connstr.ErrUnknownOption, "query", "ip_protocol_prefer", "ipv4"},
		{"unix://h:0/amps?path=/a&compression=zlib", connstr.ErrUnknownOption, "query", "compression", "zlib"},
		{"unix://h:0/amps?path=/a&http_preflight=false", connstr.ErrUnknownOption, "query", "http_preflight", "false"},
		{"unix://h:0/amps?path=/a&sni=h", connstr.ErrUnknownOption, "query", "sni", "h"},
		// unsupported options
		{"tcp://h:1/amps?compression=zlib", connstr.ErrUnsupportedOption, "query", "compression", "zlib"},
		{"tcp://h:1/amps?compression=gzip", connstr.ErrUnsupportedOption, "query", "compression", "gzip"},
		{"tcp://h:1/amps?http_preflight=true", connstr.ErrUnsupportedOption, "query", "http_preflight", "true"},
		{"tcp://h:1/amps?http_preflight=2", connstr.ErrUnsupportedOption, "query", "http_preflight", "2"},
		// bad values: booleans
		{"tcp://h:1/amps?http_preflight=maybe", connstr.ErrInvalidValue, "query", "http_preflight", "maybe"},
		{"tcp://h:1/amps?tcp_nodelay=yes", connstr.ErrInvalidValue, "query", "tcp_nodelay", "yes"},
		{"tcp://h:1/amps?tcp_nodelay=True", connstr.ErrInvalidValue, "query", "tcp_nodelay", "True"},
		{"tcp://h:1/amps?tcp_nodelay=", connstr.ErrInvalidValue, "query", "tcp_nodelay", ""},
		{"tcp://h:1/amps?tcp_nodelay=-1", connstr.ErrInvalidValue, "query", "tcp_nodelay", "-1"},
		{"tcp://h:1/amps?tcp_keepalive=1.0", connstr.ErrInvalidValue, "query", "tcp_keepalive", "1.0"},
		{"tcp://h:1/amps?tcp_keepalive=2147483648", connstr.ErrInvalidValue, "query", "tcp_keepalive", "2147483648"},
		{"tcp://h:1/amps?pretty=on", connstr.ErrInvalidValue, "query", "pretty", "on"},
		// bad values: integers
		{"tcp://h:1/amps?tcp_sndbuf=true", connstr.ErrInvalidValue, "query", "tcp_sndbuf", "true"},
		{"tcp://h:1/amps?tcp_sndbuf=", connstr.ErrInvalidValue, "query", "tcp_sndbuf", ""},
		{"tcp://h:1/amps?tcp_sndbuf=-1", connstr.ErrInvalidValue, "query", "tcp_sndbuf", "-1"},
		{"tcp://h:1/amps?tcp_sndbuf=0x10", connstr.ErrInvalidValue, "query", "tcp_sndbuf", "0x10"},
		{"tcp://h:1/amps?tcp_sndbuf=1k", connstr.ErrInvalidValue, "query", "tcp_sndbuf", "1k"},
		{"tcp://h:1/amps?tcp_rcvbuf=2147483648", connstr.ErrInvalidValue, "query", "tcp_rcvbuf", "2147483648"},
		{"tcp://h:1/amps?tcp_linger=65536", connstr.ErrInvalidValue, "query", "tcp_linger", "65536"},
		{"tcp://h:1/amps?tcp_linger=false", connstr.ErrInvalidValue, "query", "tcp_linger", "false"},
		// bad values: bind, ip_protocol_prefer, sni
		{"tcp://h:1/amps?bind=", connstr.ErrInvalidValue, "query", "bind", ""},
		{"tcp://h:1/amps?bind=localhost", connstr.ErrInvalidValue, "query", "bind", "localhost"},
		{"tcp://h:1/amps?bind=::1", connstr.ErrInvalidValue, "query", "bind", "::1"},
		{"tcp://h:1/amps?bind=[::1", connstr.ErrInvalidValue, "query", "bind", "[::1"},
		{"tcp://h:1/amps?bind=1.2.3.4:99999", connstr.ErrInvalidValue, "query", "bind", "1.2.3.4:99999"},
		{"tcp://h:1/amps?ip_protocol_prefer=IPv4", connstr.ErrInvalidValue, "query", "ip_protocol_prefer", "IPv4"},
		{"tcp://h:1/amps?ip_protocol_prefer=", connstr.ErrInvalidValue, "query", "ip_protocol_prefer", ""},
		{"tcp://h:1/amps?ip_protocol_prefer=any", connstr.ErrInvalidValue, "query", "ip_protocol_prefer", "any"},
		{"tcps://h:1/amps?sni=", connstr.ErrInvalidValue, "query", "sni", ""},
		// unix
		{"unix://localhost:0/amps", connstr.ErrInvalidURI, "query", "path", ""},
		{"unix://localhost:0/amps?pretty=true", connstr.ErrInvalidURI, "query", "path", ""},
		{"unix://localhost:0/amps?path=", connstr.ErrInvalidValue, "query", "path", ""},
		{"unix://localhost:0/amps?bind=", connstr.ErrInvalidValue, "query", "bind", ""},
		{"unix://localhost:0/amps?path=" + long, connstr.ErrInvalidValue, "query", "path", long},
		{"unix://localhost:0/amps?path=/a&unix_sndbuf=big", connstr.ErrInvalidValue, "query", "unix_sndbuf", "big"},
		{"unix://localhost:0/amps?path=/a&unix_linger=70000", connstr.ErrInvalidValue, "query", "unix_linger", "70000"},
		{"unix://localhost:0/amps?path=/a&unix_keepalive=no", connstr.ErrInvalidValue, "query", "unix_keepalive", "no"},
		{"unix://localhost:x/amps?path=/a", connstr.ErrInvalidURI, "port", "", "x"},
		{"unix://localhost/amps?path=/a", connstr.ErrInvalidURI, "port", "", ""},
		{"unix://localhost:0/fix?path=/a", connstr.ErrUnsupportedProtocol, "protocol", "", "fix"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := connstr.Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse succeeded: %v", u)
			}
			if u != nil {
				t.Errorf("Parse returned a URI with the error")
			}
			if !errors.Is(err, connstr.ErrInvalidURI) {
				t.Errorf("errors.Is(err, ErrInvalidURI) = false for %v", err)
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.sentinel)
			}
			var e *connstr.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %T, want *connstr.Error", err)
			}
			if e.Part != tt.part || e.Key != tt.key || e.Value != tt.value {
				t.Errorf("Part, Key, Value = %q, %q, %q; want %q, %q, %q", e.Part, e.Key, e.Value, tt.part, tt.key, tt.value)
			}
			if e.Reason == "" || !strings.HasPrefix(err.Error(), tt.sentinel.Error()) {
				t.Errorf("Error() = %q: want a reason and the sentinel's text first", err)
			}
			if tt.key != "" && !strings.Contains(err.Error(), `"`+tt.key+`"`) {
				t.Errorf("Error() = %q does not name the key %q", err, tt.key)
			}
			if tt.in != "" && !strings.Contains(tt.in, "@") && e.URI != tt.in {
				t.Errorf("URI = %q, want the input (it has no password)", e.URI)
			}
		})
	}
}

// leakCheck asserts that nothing printable about err or u contains pw.
func leakCheck(t *testing.T, pw string, u *connstr.URI, err error) {
	t.Helper()
	var texts []string
	if err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%v|%+v|%#v|%s", err, err, err, err))
		var e *connstr.Error
		if errors.As(err, &e) {
			texts = append(texts, e.URI, e.Key, e.Value, e.Reason, fmt.Sprintf("%#v|%+v", *e, *e))
		}
	}
	if u != nil {
		var log bytes.Buffer
		slog.New(slog.NewJSONHandler(&log, nil)).Info("connect", "uri", u, "uri_value", *u)
		texts = append(texts, u.String(), fmt.Sprint(u), fmt.Sprintf("%v|%+v|%#v|%s|%q", u, u, u, u, u),
			fmt.Sprintf("%v|%+v|%#v", *u, *u, *u), fmt.Sprintf("%+v", struct{ U connstr.URI }{*u}), log.String())
	}
	for _, s := range texts {
		if strings.Contains(s, pw) {
			t.Errorf("password %q leaked in %q", pw, s)
		}
	}
}

func TestNoPasswordLeak(t *testing.T) {
	tests := []struct {
		name, in, pw string
		ok           bool
	}{
		{"plain", "tcp://alice:s3cret@h:9007/amps/json", "s3cret", true},
		{"password is also the host", "tcp://alice:s3cret@s3cret:9007/amps/json", "s3cret", true},
		{"password is also the message type", "tcp://alice:json@h:9007/amps/json", "json", true},
		{"password is also the user", "tcp://admin:admin@h:9007/amps", "admin", true},
		{"password inside the user", "tcp://xadminx:admin@h:9007/amps", "admin", true},
		{"password is also an option value", "unix://u:s3cret@h:0/amps?path=/tmp/s3cret.sock", "s3cret", true},
		{"password with x", "tcp://u:xx@h:9007/amps", "xx", true},
		{"password looks like the mask", "tcp://u:xxxxx@h:9007/amps", "xxxxx", true},
		{"password with x * #", "tcp://u:x*#@h:9007/amps", "x*#", true},
		{"password with @ : ? & =", "tcp://u:p@:?&=w@h:9007/amps?pretty=1", "p@:?&=w", true},
		{"password with spaces", "tcp://u:pass word@h:9007/amps", "pass word", true},
		{"option error", "tcp://alice:s3cret@h:9007/amps/json?foo=1", "s3cret", false},
		{"option error, password as value", "tcp://alice:s3cret@h:9007/amps/json?tcp_sndbuf=s3cret", "s3cret", false},
		{"option error, password as key", "tcp://alice:s3cret@h:9007/amps/json?s3cret=1", "s3cret", false},
		{"option error, password in bind", "tcp://alice:1.2.3.4@h:9007/amps/json?bind=1.2.3.4:x", "1.2.3.4", false},
		{"host error, password as host", "tcp://alice:s3cret@s3cret/amps", "s3cret", false},
		{"port error", "tcp://alice:s3cret@h:s3cret/amps", "s3cret", false},
		{"path error", "tcp://alice:s3cret@h:1/s3cret", "s3cret", false},
		{"legacy protocol", "tcp://alice:fix@h:1/fix", "fix", false},
		{"transport error", "ws://alice:s3cret@h:1/amps", "s3cret", false},
		{"no ://", "tcp:alice:s3cret@h:1/amps", "s3cret", false},
		{"no path", "tcp://alice:s3cret@h:1", "s3cret", false},
		{"control character", "tcp://alice:s3cret@h:1/amps\n", "s3cret", false},
		{"control character in the password", "tcp://alice:s3\tcret@h:1/amps", "s3\tcret", false},
		{"unix without path", "unix://alice:s3cret@h:0/amps", "s3cret", false},
		// Malformed credentials: the password cannot be located exactly.
		{"password with /", "tcp://alice:pa/ss@h:9007/amps/json", "pa/ss", false},
		{"password with / and ?", "tcp://alice:1/amps?x@h:9007/amps", "1/amps?x", false},
		{"password with @ and /", "tcp://alice:p@ss/word@h:9007/amps", "p@ss/word", false},
		{"password with / and a digit prefix", "tcp://alice:9007/amps@h:9007/amps", "9007/amps", false},
		{"transport mangled with credentials", "alice:s3cret@tcp://h:1/amps", "s3cret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := connstr.Parse(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("Parse(%q) err = %v, want ok = %v", tt.in, err, tt.ok)
			}
			if tt.ok && u.Password != tt.pw {
				t.Fatalf("Password = %q, want %q", u.Password, tt.pw)
			}
			leakCheck(t, tt.pw, u, err)
			if tt.ok {
				// Any error on the same URI must not leak it either.
				_, err := connstr.Parse(tt.in + "&zz_unknown=" + tt.pw)
				if !strings.Contains(tt.in, "?") {
					_, err = connstr.Parse(tt.in + "?zz_unknown=" + tt.pw)
				}
				if !errors.Is(err, connstr.ErrUnknownOption) {
					t.Fatalf("appended unknown option: err = %v", err)
				}
				leakCheck(t, tt.pw, nil, err)
			}
		})
	}
}

func TestRedactedForms(t *testing.T) {
	tests := []struct{ in, str, errURI string }{
		{"tcp://alice:s3cret@h:9007/amps/json", "tcp://alice:xxxxx@h:9007/amps/json", ""},
		{"tcp://alice:@h:9007/amps", "tcp://alice:xxxxx@h:9007/amps", ""},
		{"tcp://alice@h:9007/amps", "tcp://alice@h:9007/amps", ""},
		{"tcp://u:xx@h:9007/amps", "tcp://u:*****@h:9007/amps", ""},
		{"tcp://admin:admin@h:9007/amps", "tcp://xxxxx:xxxxx@h:9007/amps", ""},
		{"tcp://alice:s3cret@h:9007/amps?foo=1", "", "tcp://alice:xxxxx@h:9007/amps?foo=1"},
		{"tcp://alice:pa/ss@h:9007/amps", "", "tcp://alice:xxxxx@h:9007/amps"},
		{"unix://h:0/amps?path=/a@b&foo=1", "", "unix://h:xxxxx@b&foo=1"}, // over-redacted: '@' after a URI without user info
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := connstr.Parse(tt.in)
			if tt.str != "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := u.String(); got != tt.str {
					t.Errorf("String() = %q, want %q", got, tt.str)
				}
				return
			}
			var e *connstr.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.URI != tt.errURI {
				t.Errorf("Error.URI = %q, want %q", e.URI, tt.errURI)
			}
		})
	}
}

func TestStringCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tcp://h:09007/x/y/amps/json/?", "tcp://h:9007/amps/json"},
		{"tcp://[::1]:9007/amps", "tcp://[::1]:9007/amps"},
		{"tcp://h:1/amps?pretty=0&tcp_linger=0&tcp_sndbuf=0&ip_protocol_prefer=ipv4&http_preflight=false", "tcp://h:1/amps"},
		{
			"tcps://u@h:1/amps/json?sni=s&pretty=7&ip_protocol_prefer=ipv6&bind=[::1]:0&tcp_linger=5&tcp_rcvbuf=2&tcp_sndbuf=1&tcp_keepalive=0&tcp_nodelay=1",
			"tcps://u@h:1/amps/json?tcp_nodelay=true&tcp_keepalive=false&tcp_sndbuf=1&tcp_rcvbuf=2&tcp_linger=5&bind=[::1]:0&ip_protocol_prefer=ipv6&sni=s&pretty=true",
		},
		{
			"unix://:0/amps?pretty=true&unix_linger=3&unix_rcvbuf=2&unix_sndbuf=1&unix_keepalive=true&unix_nodelay=false&bind=/s",
			"unix://:0/amps?path=/s&unix_nodelay=false&unix_keepalive=true&unix_sndbuf=1&unix_rcvbuf=2&unix_linger=3&pretty=true",
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := connstr.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := u.String()
			if got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			again, err := connstr.Parse(got)
			if err != nil || *again != *u {
				t.Fatalf("Parse(String()) = %v, %v; want %v", again, err, u)
			}
		})
	}
}

func TestAddress(t *testing.T) {
	tests := []struct{ in, network, address string }{
		{"tcp://localhost:9007/amps", "tcp", "localhost:9007"},
		{"tcps://h:9443/amps", "tcp", "h:9443"},
		{"tcp://[::1]:9007/amps/json", "tcp", "[::1]:9007"},
		{"tcp://[fe80::1%eth0]:9007/amps", "tcp", "[fe80::1%eth0]:9007"},
		{"tcp://u:p@10.0.0.1:09007/amps", "tcp", "10.0.0.1:9007"},
		{"unix://localhost:0/amps?path=/tmp/amps.sock", "unix", "/tmp/amps.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := connstr.Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			network, address := u.Address()
			if network != tt.network || address != tt.address {
				t.Fatalf("Address() = %q, %q; want %q, %q", network, address, tt.network, tt.address)
			}
		})
	}
}

func TestFormatVerbs(t *testing.T) {
	u, err := connstr.Parse("tcp://alice:s3cret@h:9007/amps")
	if err != nil {
		t.Fatal(err)
	}
	const want = "tcp://alice:xxxxx@h:9007/amps"
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(verb, u); got != want {
			t.Errorf("Sprintf(%s, u) = %q, want %q", verb, got, want)
		}
		if got := fmt.Sprintf(verb, *u); got != want {
			t.Errorf("Sprintf(%s, *u) = %q, want %q", verb, got, want)
		}
	}
	if got := fmt.Sprintf("%q", u); got != `"`+want+`"` {
		t.Errorf("Sprintf(%%q, u) = %q", got)
	}
	var nilURI *connstr.URI
	if got := fmt.Sprint(nilURI); got != "<nil>" {
		t.Errorf("Sprint(nil *URI) = %q, want <nil>", got)
	}
	if got := nilURI.String(); got != "<nil>" {
		t.Errorf("nil String() = %q, want <nil>", got)
	}
}

// A hand-built *Error (no precomputed text) still formats.
func TestErrorZeroValues(t *testing.T) {
	e := &connstr.Error{Part: "port", Value: "x", Reason: "bad"}
	if got, want := e.Error(), `connstr: invalid URI: port "x": bad`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, connstr.ErrInvalidURI) || errors.Is(e, connstr.ErrUnknownOption) {
		t.Errorf("errors.Is on a zero-sentinel *Error is wrong")
	}
}

func TestRedactString(t *testing.T) {
	for _, tc := range []struct{ s, secret string }{
		{"dial unix /tmp/s3cretPW/amps.sock: no such file", "s3cretPW"},
		{"lookup s3cretPW.invalid: no such host", "s3cretPW"},
		{"xxxx x xx", "x"},
		{"aaaa", "aa"},
		{"no secret here", ""},
	} {
		got := connstr.RedactString(tc.s, tc.secret)
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("RedactString(%q, %q) = %q: shows the secret", tc.s, tc.secret, got)
		}
		if tc.secret == "" && got != tc.s {
			t.Errorf("RedactString(%q, \"\") = %q, want it unchanged", tc.s, got)
		}
	}
}
