package filestore

import (
	"errors"
	"fmt"
)

// Sentinel errors. The errors the store returns match one of them with
// errors.Is, name the file or directory, and, where a system call failed,
// also match its errno (errors.Is(err, syscall.ENOSPC)).
var (
	// ErrLocked: the store is open already, by another process or by
	// another Open in this one (the lock is flock(2) on the lock file,
	// which conflicts per open file description). An Open that loses such a
	// race removes nothing; one whose lock file was replaced under it while
	// it locked (by a failing Open that had created it) reports ErrLocked
	// too, and may be retried.
	ErrLocked = errors.New("filestore: store is in use")
	// ErrForeign: the store belongs to another client name; the message
	// names both.
	ErrForeign = errors.New("filestore: store belongs to another client name")
	// ErrVersion: the store was written in a format version this package
	// does not read.
	ErrVersion = errors.New("filestore: unsupported format version")
	// ErrFormat: the directory holds files that are not a store's, its
	// meta file is damaged, or a segment file's name carries an index the
	// stream's offsets cannot reach.
	ErrFormat = errors.New("filestore: not a publish store")
	// ErrNoSpace: the file system has no room for the segments the store
	// needs ready (see Open); nothing was left behind.
	ErrNoSpace = errors.New("filestore: no space for the store's segments")
	// ErrInvalidOptions: an Options field, or the name, is out of range.
	ErrInvalidOptions = errors.New("filestore: invalid options")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("filestore: store closed")
)

// Error is the error type of the store: what it did, on which path, the
// sentinel it matches (Kind, may be nil) and the cause (Err, may be nil).
type Error struct {
	Op   string
	Path string
	Kind error
	Err  error
}

func (e *Error) Error() string {
	msg := "filestore: " + e.Op + " " + e.Path
	if e.Kind != nil {
		msg += ": " + e.Kind.Error()
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause, for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func newErr(op, path string, kind, err error) error {
	return &Error{Op: op, Path: path, Kind: kind, Err: err}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...)
}
