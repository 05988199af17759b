package frame

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error returned by this package matches exactly one of them with
// errors.Is (io.EOF, io.ErrUnexpectedEOF and errors from the underlying io.Reader aside).
var (
	// ErrInvalidValue: an encoder was given a header value it cannot put on the wire (an empty
	// required field, a control character, an unsupported command, unknown ack-type bits).
	// The concrete error is *InvalidValueError.
	ErrInvalidValue = errors.New("frame: invalid header value")

	// ErrMalformedHeader: Header.Parse rejected a header. The concrete error is *HeaderError.
	ErrMalformedHeader = errors.New("frame: malformed header")

	// ErrFrameTooLarge: a frame body exceeds a limit (the Reader's max, or the 4 GiB the length
	// prefix can express when encoding). The concrete error is *FrameTooLargeError.
	ErrFrameTooLarge = errors.New("frame: frame too large")

	// ErrUnknownAckType: ParseAckType met a word that is not an ack type. The concrete error is
	// *AckTypeError.
	ErrUnknownAckType = errors.New("frame: unknown ack type")
)

// InvalidValueError reports a header value an encoder refused. Field is the wire key ("t",
// "cid", "pw", ...), or "payload" for a bad payload length. The value itself is never part of
// the error (it may be a password).
type InvalidValueError struct {
	Field  string // wire key of the offending field
	Reason string // e.g. "control character", "empty", "unsupported command"
}

func (e *InvalidValueError) Error() string {
	return "frame: invalid header value for " + strconv.Quote(e.Field) + ": " + e.Reason
}

// Unwrap returns ErrInvalidValue.
func (e *InvalidValueError) Unwrap() error { return ErrInvalidValue }

// Is reports whether target is ErrInvalidValue.
func (e *InvalidValueError) Is(target error) bool { return target == ErrInvalidValue }

// HeaderError reports why and where Header.Parse rejected a header. Offset is the index in the
// body passed to Parse (the frame after its length prefix) of the first offending byte.
type HeaderError struct {
	Offset int
	Reason string
}

func (e *HeaderError) Error() string {
	return "frame: malformed header at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns ErrMalformedHeader.
func (e *HeaderError) Unwrap() error { return ErrMalformedHeader }

// Is reports whether target is ErrMalformedHeader.
func (e *HeaderError) Is(target error) bool { return target == ErrMalformedHeader }

// FrameTooLargeError reports a frame body (bytes after the prefix) of Size bytes where at most
// Max are allowed.
type FrameTooLargeError struct {
	Size, Max uint64
}

func (e *FrameTooLargeError) Error() string {
	return "frame: frame too large: " + strconv.FormatUint(e.Size, 10) + " bytes, max " +
		strconv.FormatUint(e.Max, 10)
}

// Unwrap returns ErrFrameTooLarge.
func (e *FrameTooLargeError) Unwrap() error { return ErrFrameTooLarge }

// Is reports whether target is ErrFrameTooLarge.
func (e *FrameTooLargeError) Is(target error) bool { return target == ErrFrameTooLarge }

// AckTypeError reports a word in an ack-type list that ParseAckType does not know. Word is
// quoted with strconv.Quote in Error, so control bytes cannot reach a log verbatim.
type AckTypeError struct {
	Word string
}

func (e *AckTypeError) Error() string {
	return "frame: unknown ack type " + strconv.Quote(e.Word)
}

// Unwrap returns ErrUnknownAckType.
func (e *AckTypeError) Unwrap() error { return ErrUnknownAckType }

// Is reports whether target is ErrUnknownAckType.
func (e *AckTypeError) Is(target error) bool { return target == ErrUnknownAckType }

// Reasons used in InvalidValueError.
const (
	reasonControl     = "control character"
	reasonEmpty       = "empty"
	reasonCommand     = "unsupported command"
	reasonAckBits     = "unknown ack type bits"
	reasonNegativeLen = "negative length"
)

func invalid(field, reason string) error {
	return &InvalidValueError{Field: field, Reason: reason}
}
