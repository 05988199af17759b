package loadreport

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Log is one HdrHistogram interval log read back: its intervals in order,
// and the loadgen run that wrote it ("" for a log another tool wrote).
type Log struct {
	Path      string
	Run       string
	Intervals []*hdrhistogram.Histogram // each tagged with its kind, times in Unix ms
}

var runComment = regexp.MustCompile(`^#\[loadgen run ([0-9a-f]{8})\b`)

// ReadLog reads an interval log written by loadgen --hlog (or any
// HdrHistogram interval log whose tags are loadgen's kinds).
func ReadLog(path string) (*Log, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := &Log{Path: path}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if m := runComment.FindSubmatch(sc.Bytes()); m != nil {
			l.Run = string(m[1])
			break
		}
	}
	rd := hdrhistogram.NewHistogramLogReader(bytes.NewReader(b))
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if h == nil {
			break
		}
		if (&Latency{}).Slot(h.Tag()) == nil {
			return nil, fmt.Errorf("%s: an interval tagged %q, not one of loadgen's kinds %v", path, h.Tag(), Tags)
		}
		l.Intervals = append(l.Intervals, h)
	}
	if len(l.Intervals) == 0 {
		return nil, fmt.Errorf("%s: no interval histogram (not an HdrHistogram interval log?)", path)
	}
	return l, nil
}

// Totals sums the log's intervals per kind.
func (l *Log) Totals() (map[string]*hdrhistogram.Histogram, error) {
	out := map[string]*hdrhistogram.Histogram{}
	for _, h := range l.Intervals {
		t := out[h.Tag()]
		if t == nil {
			t = NewHistogram()
			out[h.Tag()] = t
		}
		if err := MergeInto(t, h); err != nil {
			return nil, fmt.Errorf("%s: %w", l.Path, err)
		}
	}
	return out, nil
}

// IsJSON reports whether the file at path holds a JSON report (its first
// non-blank byte is '{') rather than an interval log.
func IsJSON(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{', nil
	}
}
