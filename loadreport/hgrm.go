package loadreport

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// UnitScale is how many nanoseconds a --hist unit holds.
var UnitScale = map[string]float64{"ns": 1, "us": 1e3, "ms": 1e6}

// WriteHgrm writes h to path in the HdrHistogram percentile-distribution
// text format ("Value Percentile TotalCount 1/(1-Percentile)"), which
// HdrHistogram's plotFiles.html and HistogramLogAnalyzer read, with values
// in unit (ns, us or ms).
func WriteHgrm(path, unit string, h *hdrhistogram.Histogram) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := h.PercentilesPrint(f, 5, UnitScale[unit]); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// HgrmPath derives the file for a second histogram from a --hist path:
// lat.hgrm → lat-delivery.hgrm.
func HgrmPath(path, kind string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + kind + ext
}

// HgrmFiles maps each measured kind to its file, derived from path as
// --hist does: the headline (publish-to-wire) in path itself, the others
// in path-<tag>.
func (r *Report) HgrmFiles(path string) map[string]*hdrhistogram.Histogram {
	files := map[string]*hdrhistogram.Histogram{}
	for _, k := range r.Latency.Kinds() {
		if k.Stats.Hist == nil {
			continue
		}
		if k.Tag == "wire" {
			files[path] = k.Stats.Hist
		} else {
			files[HgrmPath(path, k.Tag)] = k.Stats.Hist
		}
	}
	return files
}
