package ring

import (
	"errors"
	"strconv"
)

// Sentinel errors. Match them with errors.Is: the size and config errors are
// returned wrapped in *SizeError and *ConfigError.
var (
	// ErrFull is returned by TryClaim when the claim does not fit now
	// (arena window, external budget or the uncommitted-frame limit).
	ErrFull = errors.New("ring: full")
	// ErrClosed is returned by Claim and TryClaim after Close, and by Wait
	// once the ring is closed and drained (or its done channel is closed).
	ErrClosed = errors.New("ring: closed")
	// ErrTooLarge is returned (wrapped in *SizeError) for a claim larger than
	// Config.MaxClaim.
	ErrTooLarge = errors.New("ring: claim larger than MaxClaim")
	// ErrInvalidSize is returned (wrapped in *SizeError) for a claim of zero
	// or negative length. Frames are at least one byte long.
	ErrInvalidSize = errors.New("ring: claim size must be positive")
	// ErrInvalidConfig is returned (wrapped in *ConfigError) by New.
	ErrInvalidConfig = errors.New("ring: invalid config")
)

// SizeError reports a claim size the ring refuses. It unwraps to ErrTooLarge
// (N > Max) or ErrInvalidSize (N <= 0). It is only allocated on that error
// path; the normal claim paths never allocate.
type SizeError struct {
	N   int // the requested size
	Max int // Config.MaxClaim of the ring
}

func (e *SizeError) Error() string {
	if e.N <= 0 {
		return "ring: claim size " + strconv.Itoa(e.N) + " must be positive"
	}
	return "ring: claim size " + strconv.Itoa(e.N) + " exceeds MaxClaim " + strconv.Itoa(e.Max)
}

// Unwrap returns ErrInvalidSize or ErrTooLarge.
func (e *SizeError) Unwrap() error {
	if e.N <= 0 {
		return ErrInvalidSize
	}
	return ErrTooLarge
}

// ConfigError reports an invalid Config field. It unwraps to ErrInvalidConfig.
type ConfigError struct {
	Field  string // Config field name, e.g. "Size"
	Value  int    // the value given
	Reason string // what the field must satisfy
}

func (e *ConfigError) Error() string {
	return "ring: invalid Config." + e.Field + " " + strconv.Itoa(e.Value) + ": " + e.Reason
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }
