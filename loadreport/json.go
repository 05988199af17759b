package loadreport

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// WriteJSON writes the report as one JSON object and a newline, each
// latency kind with its histogram encoded.
func (r *Report) WriteJSON(w io.Writer) error {
	for _, k := range r.Latency.Kinds() {
		if k.Stats.Hist != nil {
			b, err := k.Stats.Hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
			if err != nil {
				return fmt.Errorf("encoding the %s histogram: %w", k.Tag, err)
			}
			k.Stats.Histogram = string(b)
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads one report written by WriteJSON and decodes its
// histograms.
func ReadJSON(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if r.Tool != "loadgen" {
		return nil, fmt.Errorf("not a loadgen report (tool %q)", r.Tool)
	}
	if r.ReportVersion != Version {
		return nil, fmt.Errorf("report version %d, this loadgen reads %d", r.ReportVersion, Version)
	}
	for _, k := range r.Latency.Kinds() {
		if k.Stats.Histogram == "" {
			return nil, fmt.Errorf("the %s latency has no histogram", k.Tag)
		}
		h, err := hdrhistogram.Decode([]byte(k.Stats.Histogram))
		if err != nil {
			return nil, fmt.Errorf("the %s histogram: %w", k.Tag, err)
		}
		if h.TotalCount() != k.Stats.Count {
			return nil, fmt.Errorf("the %s histogram holds %d values, the summary says %d", k.Tag, h.TotalCount(), k.Stats.Count)
		}
		k.Stats.Hist = h
	}
	return &r, nil
}

// ReadJSONFile reads a report from a file.
func ReadJSONFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.Path = path
	return r, nil
}
