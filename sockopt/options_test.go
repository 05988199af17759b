package sockopt_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/fastpub/fastpub/sockopt"
)

func TestParseBind(t *testing.T) {
	tests := []struct {
		in   string
		want netip.AddrPort
	}{
		{"127.0.0.1", netip.MustParseAddrPort("127.0.0.1:0")},
		{"127.0.0.1:0", netip.MustParseAddrPort("127.0.0.1:0")},
		{"10.1.2.3:4567", netip.MustParseAddrPort("10.1.2.3:4567")},
		{"[::1]", netip.MustParseAddrPort("[::1]:0")},
		{"[::1]:9007", netip.MustParseAddrPort("[::1]:9007")},
		{"[fe80::1%eth0]:1", netip.MustParseAddrPort("[fe80::1%eth0]:1")},
		{"[::ffff:127.0.0.1]", netip.MustParseAddrPort("[::ffff:127.0.0.1]:0")},
		{"0.0.0.0:65535", netip.MustParseAddrPort("0.0.0.0:65535")},
		{"127.0.0.1:00080", netip.MustParseAddrPort("127.0.0.1:80")},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := sockopt.ParseBind(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseBind(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseBindErrors(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "empty"},
		{"localhost", "not a numeric IP address"},
		{"localhost:80", "not a numeric IP address"},
		{"::1", "an IPv6 address must be in brackets"},
		{"fe80::1:80", "an IPv6 address must be in brackets"},
		{"[::1", "missing ']'"},
		{"[::1]x", "unexpected text after ']'"},
		{"[::1]:", "empty port"},
		{"127.0.0.1:", "empty port"},
		{"[127.0.0.1]", "brackets hold an IPv6 address only"},
		{"127.0.0.1:http", "port is not a decimal number"},
		{"127.0.0.1:-1", "port is not a decimal number"},
		{"127.0.0.1:+1", "port is not a decimal number"},
		{"127.0.0.1:65536", "port out of range"},
		{"1.2.3.4%eth0", "not a numeric IP address"},
		{" 127.0.0.1", "not a numeric IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := sockopt.ParseBind(tt.in)
			var oe *sockopt.OptionError
			if !errors.Is(err, sockopt.ErrInvalidBind) || !errors.As(err, &oe) {
				t.Fatalf("ParseBind(%q) err = %v, want *OptionError wrapping ErrInvalidBind", tt.in, err)
			}
			if oe.Option != "bind" || oe.Value != tt.in || oe.Reason != tt.reason {
				t.Fatalf("ParseBind(%q) err = %+v, want reason %q", tt.in, oe, tt.reason)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	var big64 int64 = 1 << 31
	big := int(big64) // beyond a C int (negative where int is 32 bits: also invalid)
	tests := []struct {
		name   string
		o      sockopt.Options
		target error // nil: valid
		option string
	}{
		{name: "zero", o: sockopt.Options{}},
		{name: "everything", o: sockopt.Options{NoDelay: sockopt.Off, KeepAlive: sockopt.On, SendBuffer: 1, RecvBuffer: 1<<31 - 1, Linger: 1<<31 - 1, Bind: "[::1]:9"}},
		{name: "negative sndbuf", o: sockopt.Options{SendBuffer: -1}, target: sockopt.ErrInvalidValue, option: "SO_SNDBUF"},
		{name: "huge rcvbuf", o: sockopt.Options{RecvBuffer: big}, target: sockopt.ErrInvalidValue, option: "SO_RCVBUF"},
		{name: "negative linger", o: sockopt.Options{Linger: -1}, target: sockopt.ErrInvalidValue, option: "SO_LINGER"},
		{name: "huge linger", o: sockopt.Options{Linger: big}, target: sockopt.ErrInvalidValue, option: "SO_LINGER"},
		{name: "bad nodelay toggle", o: sockopt.Options{NoDelay: 3}, target: sockopt.ErrInvalidValue, option: "TCP_NODELAY"},
		{name: "bad keepalive toggle", o: sockopt.Options{KeepAlive: 200}, target: sockopt.ErrInvalidValue, option: "SO_KEEPALIVE"},
		{name: "bad bind", o: sockopt.Options{Bind: "host.example"}, target: sockopt.ErrInvalidBind, option: "bind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.target == nil {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tt.o, err)
				}
				return
			}
			var oe *sockopt.OptionError
			if !errors.Is(err, tt.target) || !errors.As(err, &oe) || oe.Option != tt.option {
				t.Fatalf("Validate(%+v) = %v, want %s error wrapping %v", tt.o, err, tt.option, tt.target)
			}
		})
	}
}

func TestToggleString(t *testing.T) {
	for tg, want := range map[sockopt.Toggle]string{sockopt.Default: "default", sockopt.On: "on", sockopt.Off: "off", 9: "Toggle(9)"} {
		if got := tg.String(); got != want {
			t.Errorf("Toggle(%d).String() = %q, want %q", uint8(tg), got, want)
		}
	}
}

func TestOptionErrorMessage(t *testing.T) {
	err := (sockopt.Options{SendBuffer: -4}).Validate()
	const want = `sockopt: SO_SNDBUF="-4": invalid option value: must be > 0`
	if err == nil || err.Error() != want {
		t.Fatalf("Error() = %v, want %q", err, want)
	}
	if strings.Count(err.Error(), "sockopt:") != 1 {
		t.Fatalf("prefix repeated in %q", err)
	}
}
