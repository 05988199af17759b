package connstr

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Parse returns an *Error whose Err is one of them; every
// *Error also matches ErrInvalidURI, so
//
//	errors.Is(err, connstr.ErrInvalidURI)    // any parse error
//	errors.Is(err, connstr.ErrUnknownOption) // the specific kind
//	var e *connstr.Error; errors.As(err, &e) // e.Key names the option
var (
	// ErrInvalidURI is matched by every error of Parse. Used alone for
	// syntax errors (missing "://", host, port, path, "=" ...).
	ErrInvalidURI = errors.New("connstr: invalid URI")
	// ErrUnsupportedTransport: the transport is not tcp, tcps or unix.
	ErrUnsupportedTransport = errors.New("connstr: unsupported transport")
	// ErrUnsupportedProtocol: the path names a legacy protocol (fix, nvfix,
	// xml) instead of amps.
	ErrUnsupportedProtocol = errors.New("connstr: unsupported protocol")
	// ErrUnknownOption: the option key is not one of the transport's keys
	// (including tcp_* keys on unix and unix_* keys on tcp). Error.Key names it.
	ErrUnknownOption = errors.New("connstr: unknown option")
	// ErrInvalidValue: a known option has a value it does not accept.
	// Error.Key names the option.
	ErrInvalidValue = errors.New("connstr: invalid option value")
	// ErrUnsupportedOption: an option the official client knows but fastpub
	// does not implement (compression, http_preflight=true). Error.Key names it.
	ErrUnsupportedOption = errors.New("connstr: unsupported option")
)

// Error describes why Parse rejected a connection string.
//
// Redaction contract: no field and no Error() text contains the password.
// URI is the input with the password replaced by a mask ("xxxxx", or
// "*****"/"#####" when the password itself contains 'x'); any further
// occurrence of the password text anywhere (as a host, a value, a key ...) is
// masked too, and Key/Value are masked whole when they overlap the password.
// When the input is too malformed to locate the password (no '@' before the
// first '/', but an '@' later on, as with a password containing '/'), every
// byte from the first ':' after "://" up to the last '@' is treated as the
// password. Masking is by content, so a very short password also masks the
// same letters in the fixed wording of Error(); that is the price of the
// guarantee. The password is never stored in the Error.
type Error struct {
	URI    string // the input, password redacted
	Part   string // "uri", "transport", "user", "host", "port", "path", "protocol" or "query"
	Key    string // the option key for option errors (Part "query"); "" otherwise
	Value  string // the offending text (option value, host, port ...); may be empty
	Reason string // what is wrong, in words
	Err    error  // the sentinel: ErrInvalidURI, ErrUnsupportedTransport, ErrUnsupportedProtocol, ErrUnknownOption, ErrInvalidValue or ErrUnsupportedOption

	msg string // Error() text, redacted when the error was built
}

// Error returns a one-line description: the sentinel text, the option or
// part, the reason and the redacted URI.
func (e *Error) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.format()
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidURI, which every *Error matches.
// The specific sentinel is matched through Unwrap.
func (e *Error) Is(target error) bool { return target == ErrInvalidURI }

func (e *Error) format() string {
	var b strings.Builder
	err := e.Err
	if err == nil {
		err = ErrInvalidURI
	}
	b.WriteString(err.Error())
	switch {
	case e.Key != "":
		b.WriteString(": option ")
		b.WriteString(strconv.Quote(e.Key))
		if e.Value != "" {
			b.WriteByte('=')
			b.WriteString(strconv.Quote(e.Value))
		}
	case e.Part != "":
		b.WriteString(": ")
		b.WriteString(e.Part)
		if e.Value != "" {
			b.WriteByte(' ')
			b.WriteString(strconv.Quote(e.Value))
		}
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.URI != "" {
		b.WriteString(" in ")
		b.WriteString(strconv.Quote(e.URI))
	}
	return b.String()
}

// span is a byte range [lo, hi) of the input; lo < 0 means none.
type span struct{ lo, hi int }

var none = span{-1, -1}

func (a span) valid() bool { return a.lo >= 0 }

func (a span) overlaps(b span) bool {
	return a.valid() && b.valid() && a.lo < b.hi && b.lo < a.hi
}

// credentialSpan locates the password in a possibly malformed input; see the
// redaction contract on Error. ok is false when the input has no password.
func credentialSpan(s string) (cred span, ok bool) {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && !strings.ContainsAny(s[:i], ":@") {
		start = i + 3 // else the "transport" holds credentials: scan from 0
	}
	rest := s[start:]
	authEnd := len(rest)
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		authEnd = j
	}
	pathEnd := len(rest)
	if q := strings.IndexByte(rest[authEnd:], '?'); q >= 0 {
		pathEnd = authEnd + q
	}
	at := strings.LastIndexByte(rest[:authEnd], '@')
	if at >= 0 {
		// An '@' in the path as well means the password contained a '/'.
		if b := strings.LastIndexByte(rest[authEnd:pathEnd], '@'); b >= 0 {
			at = authEnd + b
		}
	} else if at = strings.LastIndexByte(rest, '@'); at < 0 {
		return none, false
	}
	c := strings.IndexByte(rest[:at], ':')
	if c < 0 {
		return none, false
	}
	return span{start + c + 1, start + at}, true
}

// maskFor returns a 5-byte mask made of a byte that does not occur in
// secret, so that masking cannot create a new occurrence of it.
func maskFor(secret string) string {
	for _, c := range []byte("x*#") {
		if strings.IndexByte(secret, c) < 0 {
			return strings.Repeat(string(c), 5)
		}
	}
	for c := byte('!'); c <= '~'; c++ {
		if strings.IndexByte(secret, c) < 0 {
			return strings.Repeat(string(c), 5)
		}
	}
	// secret holds every printable byte, so it is longer than the mask and
	// cannot occur inside it.
	return "xxxxx"
}

// scrub masks every occurrence of secret in s. It never returns a string
// containing secret.
func scrub(s, secret, mask string) string {
	if secret == "" {
		return s
	}
	for i := 0; i < 4 && strings.Contains(s, secret); i++ {
		s = strings.ReplaceAll(s, secret, mask)
	}
	if strings.Contains(s, secret) {
		return mask
	}
	return s
}

// field is a piece of the input (at) or, when lit is set, a fixed text.
type field struct {
	at  span
	lit string
}

func at(lo, hi int) field { return field{at: span{lo, hi}} }

var noField = field{at: none}

// newError builds a redacted *Error for input s.
func newError(s, part string, key, value field, reason string, sentinel error) *Error {
	cred, hasCred := credentialSpan(s)
	secret := ""
	if hasCred {
		secret = s[cred.lo:cred.hi]
	}
	mask := maskFor(secret)
	text := func(f field) string {
		if f.lit != "" {
			return scrub(f.lit, secret, mask)
		}
		if !f.at.valid() {
			return ""
		}
		if hasCred && f.at.overlaps(cred) {
			return mask
		}
		return scrub(s[f.at.lo:f.at.hi], secret, mask)
	}
	uri := s
	if hasCred {
		uri = s[:cred.lo] + mask + s[cred.hi:]
	}
	e := &Error{
		URI:    scrub(uri, secret, mask),
		Part:   part,
		Key:    text(key),
		Value:  text(value),
		Reason: scrub(reason, secret, mask),
		Err:    sentinel,
	}
	e.msg = scrub(e.format(), secret, mask)
	return e
}

// RedactString returns s with every occurrence of secret (a password)
// replaced by a mask that does not contain it, as URI.String and Error do.
// It never returns a string that contains a non-empty secret. For errors
// built around a connection string: an operating system's error names the
// host or the unix path, which may contain the password's text.
func RedactString(s, secret string) string {
	return scrub(s, secret, maskFor(secret))
}
