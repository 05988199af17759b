package connstr

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// FuzzParse checks, for any input: Parse never panics; a failure is an
// *Error matching ErrInvalidURI that contains nothing of the credential
// region of the input; a success round-trips exactly through the canonical
// form, String() never contains the password and re-parses to the same URI
// with the password masked, and an error on the same URI does not leak the
// password either. Seeds: f.Add below and testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tcp://localhost:9007/amps/json",
		"tcps://alice:s3cret@[::1]:9443/x/amps/json/?tcp_nodelay=false&tcp_sndbuf=65536&bind=[::1]:0&sni=h&pretty=1",
		"unix://u:p@localhost:0/amps?path=/tmp/amps.sock&unix_keepalive=false&unix_linger=3",
		"tcp://alice:pa/ss@h:9007/amps",
		"tcp://h:9007/fix",
		"tcp://h:9007/amps?compression=zlib",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			checkParseError(t, s, u, err)
			return
		}
		checkParsed(t, s, u)
	})
}

func checkParseError(t *testing.T, s string, u *URI, err error) {
	var e *Error
	if u != nil || !errors.As(err, &e) || !errors.Is(err, ErrInvalidURI) || !errors.Is(err, e.Err) {
		t.Fatalf("Parse(%q) = %v, %#v: want nil and an *Error matching ErrInvalidURI", s, u, err)
	}
	if cred, ok := credentialSpan(s); ok && cred.hi > cred.lo {
		secret := s[cred.lo:cred.hi]
		for _, text := range []string{err.Error(), e.URI, e.Key, e.Value, e.Reason} {
			if strings.Contains(text, secret) {
				t.Fatalf("Parse(%q): credential region %q leaked in %q", s, secret, text)
			}
		}
	}
}

func checkParsed(t *testing.T, s string, u *URI) {
	switch {
	case u.Transport != "tcp" && u.Transport != "tcps" && u.Transport != "unix",
		u.Protocol != "amps",
		u.Transport == "unix" && (u.Path == "" || len(u.Path) > MaxUnixPath),
		u.Transport != "unix" && (u.Host == "" || u.Port == "0" || (u.IPPrefer != "ipv4" && u.IPPrefer != "ipv6")),
		u.Socket.Validate() != nil:
		t.Fatalf("Parse(%q) accepted an invalid URI %#v", s, fieldsOf(u))
	}

	// Exact round trip through the unredacted canonical form.
	full := u.format("")
	again, err := Parse(full)
	if err != nil || *again != *u {
		t.Fatalf("Parse(%q) = %#v\ncanonical %q re-parses to %#v, %v", s, fieldsOf(u), full, fieldsOf(again), err)
	}

	// String never shows the password; when the password text occurs
	// nowhere else it is the masked canonical form and re-parses.
	str := u.String()
	pw := u.Password
	if pw != "" && strings.Contains(str, pw) {
		t.Fatalf("Parse(%q).String() = %q contains the password", s, str)
	}
	mask := maskFor(pw)
	if pw == "" || !strings.Contains(u.format(mask), pw) {
		want := *u
		if u.HasPassword {
			want.Password = mask
		}
		back, err := Parse(str)
		if err != nil || *back != want {
			t.Fatalf("Parse(%q).String() = %q re-parses to %#v, %v; want %#v", s, str, fieldsOf(back), err, fieldsOf(&want))
		}
	}

	// An error on this URI does not leak the password.
	sep := "?"
	start := strings.Index(full, "://") + 3
	if path := start + strings.IndexByte(full[start:], '/'); strings.IndexByte(full[path:], '?') >= 0 {
		sep = "&"
	}
	_, err = Parse(full + sep + "zz_fuzz=1")
	var e *Error
	if !errors.Is(err, ErrUnknownOption) || !errors.As(err, &e) || e.Key != "zz_fuzz" {
		t.Fatalf("Parse(%q + unknown option) = %v, want ErrUnknownOption for zz_fuzz", full, err)
	}
	if pw != "" {
		for _, text := range []string{err.Error(), e.URI, e.Key, e.Value, e.Reason} {
			if strings.Contains(text, pw) {
				t.Fatalf("password %q of %q leaked in %q", pw, s, text)
			}
		}
	}

	network, addr := u.Address()
	if u.Transport == "unix" {
		if network != "unix" || addr != u.Path {
			t.Fatalf("Address() = %q, %q for %q", network, addr, s)
		}
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if network != "tcp" || err != nil || host != u.Host || port != u.Port {
		t.Fatalf("Address() = %q, %q (%v) for %#v", network, addr, err, fieldsOf(u))
	}
}

// fieldsOf shows every field, password included, in test failures only.
type uriFields URI

func fieldsOf(u *URI) *uriFields { return (*uriFields)(u) }
