package sidebyside

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Spread is a figure over rounds: the median and the range.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func spreadOf(v []float64) *Spread {
	if len(v) == 0 {
		return nil
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &Spread{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// Summary holds the medians over rounds. Every ratio is the median of the
// per-round ratios (each round's runs against the same round's), which
// cancels the machine's slow phases better than a ratio of medians.
type Summary struct {
	Throughput []ThroughputRow `json:"throughput"`
	Ratios     []RatioRow      `json:"ratios"`
	Latency    []LatencyRow    `json:"latency"`
}

// ThroughputRow is one row at one size.
type ThroughputRow struct {
	Row          string  `json:"row"`
	Title        string  `json:"title"`
	Size         int     `json:"size"`
	MsgsPerSec   *Spread `json:"msgs_per_sec"`
	PubCPU       *Spread `json:"pub_cpu_ns_per_msg"`
	SinkCPU      *Spread `json:"sink_cpu_ns_per_msg"`
	RateVsCeil   *Spread `json:"msgs_per_sec_vs_ceiling,omitempty"`
	PubCPUVsCeil *Spread `json:"pub_cpu_vs_ceiling,omitempty"`
}

// RatioRow is the ratios at one size.
type RatioRow struct {
	Size         int     `json:"size"`
	RateVsCeil   *Spread `json:"fastpub1_vs_ceiling_msgs_per_sec,omitempty"`
	PubCPUVsCeil *Spread `json:"fastpub1_vs_ceiling_cpu_per_msg,omitempty"`
	NvsOne       *Spread `json:"fastpubN_vs_fastpub1_msgs_per_sec,omitempty"`
	StoreVsOff   *Spread `json:"store_vs_fastpub1_msgs_per_sec,omitempty"`
}

// LatencyRow is one latency row at one rate; for fastpub, VsInline holds
// fastpub / inline floor for each percentile.
type LatencyRow struct {
	Row      string             `json:"row"`
	Title    string             `json:"title"`
	Rate     int                `json:"rate"`
	P50      *Spread            `json:"p50_ns"`
	P90      *Spread            `json:"p90_ns"`
	P99      *Spread            `json:"p99_ns"`
	P999     *Spread            `json:"p999_ns"`
	Max      *Spread            `json:"max_ns"`
	Behind   *Spread            `json:"behind_ns"`
	VsInline map[string]*Spread `json:"vs_inline,omitempty"`
}

func summarize(res *Results) Summary {
	var sum Summary
	cfg := res.Config
	type tpKey struct {
		round, size int
		row         string
	}
	tp := map[tpKey]ThroughputRun{}
	for _, r := range res.Throughput {
		tp[tpKey{r.Round, r.Size, r.Row}] = r
	}
	ratio := func(size int, row, base string, f func(ThroughputRun) float64) *Spread {
		var v []float64
		for round := 1; round <= cfg.Rounds; round++ {
			a, ok1 := tp[tpKey{round, size, row}]
			b, ok2 := tp[tpKey{round, size, base}]
			if ok1 && ok2 && f(b) > 0 {
				v = append(v, f(a)/f(b))
			}
		}
		return spreadOf(v)
	}
	rate := func(r ThroughputRun) float64 { return r.MsgsPerSec }
	cpu := func(r ThroughputRun) float64 { return r.PubCPU }
	for _, size := range cfg.Sizes {
		for _, row := range cfg.Rows {
			var rates, pub, snk []float64
			for _, r := range res.Throughput {
				if r.Size == size && r.Row == row {
					rates, pub, snk = append(rates, r.MsgsPerSec), append(pub, r.PubCPU), append(snk, r.SinkCPU)
				}
			}
			if len(rates) == 0 {
				continue
			}
			tr := ThroughputRow{Row: row, Title: RowTitle(row, cfg.Producers), Size: size,
				MsgsPerSec: spreadOf(rates), PubCPU: spreadOf(pub), SinkCPU: spreadOf(snk)}
			if row != RowCeiling {
				tr.RateVsCeil = ratio(size, row, RowCeiling, rate)
				tr.PubCPUVsCeil = ratio(size, row, RowCeiling, cpu)
			}
			sum.Throughput = append(sum.Throughput, tr)
		}
		rr := RatioRow{Size: size,
			RateVsCeil:   ratio(size, RowFastpub1, RowCeiling, rate),
			PubCPUVsCeil: ratio(size, RowFastpub1, RowCeiling, cpu),
			NvsOne:       ratio(size, RowFastpubN, RowFastpub1, rate),
			StoreVsOff:   ratio(size, RowStore, RowFastpub1, rate)}
		if rr.RateVsCeil != nil || rr.NvsOne != nil || rr.StoreVsOff != nil {
			sum.Ratios = append(sum.Ratios, rr)
		}
	}
	type latKey struct {
		round, rate int
		row         string
	}
	lat := map[latKey]LatencyRun{}
	for _, r := range res.Latency {
		lat[latKey{r.Round, r.Rate, r.Row}] = r
	}
	pcts := []struct {
		name string
		f    func(LatencyRun) float64
	}{
		{"p50", func(r LatencyRun) float64 { return float64(r.P50) }},
		{"p90", func(r LatencyRun) float64 { return float64(r.P90) }},
		{"p99", func(r LatencyRun) float64 { return float64(r.P99) }},
		{"p99.9", func(r LatencyRun) float64 { return float64(r.P999) }},
		{"max", func(r LatencyRun) float64 { return float64(r.Max) }},
	}
	for _, rt := range cfg.Rates {
		for _, row := range cfg.LatRows {
			var vals [6][]float64
			for _, r := range res.Latency {
				if r.Rate == rt && r.Row == row {
					for i, p := range pcts {
						vals[i] = append(vals[i], p.f(r))
					}
					vals[5] = append(vals[5], float64(r.Behind))
				}
			}
			if len(vals[0]) == 0 {
				continue
			}
			lr := LatencyRow{Row: row, Title: RowTitle(row, 1), Rate: rt, P50: spreadOf(vals[0]), P90: spreadOf(vals[1]),
				P99: spreadOf(vals[2]), P999: spreadOf(vals[3]), Max: spreadOf(vals[4]), Behind: spreadOf(vals[5])}
			if row == RowFastpub || row == RowFastpubWriter {
				lr.VsInline = map[string]*Spread{}
				for _, p := range pcts {
					var v []float64
					for round := 1; round <= cfg.Rounds; round++ {
						a, ok1 := lat[latKey{round, rt, row}]
						b, ok2 := lat[latKey{round, rt, RowInline}]
						if ok1 && ok2 && p.f(b) > 0 {
							v = append(v, p.f(a)/p.f(b))
						}
					}
					if s := spreadOf(v); s != nil {
						lr.VsInline[p.name] = s
					}
				}
				if len(lr.VsInline) == 0 {
					lr.VsInline = nil
				}
			}
			sum.Latency = append(sum.Latency, lr)
		}
	}
	return sum
}

// WriteJSON writes the results as one indented JSON object.
func (res *Results) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// WriteMarkdown writes the tables, ready for README.
func (res *Results) WriteMarkdown(w io.Writer) error {
	cfg := res.Config
	var b strings.Builder
	fmt.Fprintf(&b, "Side by side against a discard sink in a separate process (%s socket), %s.\n", cfg.Network, res.Machine)
	fmt.Fprintf(&b, "%d round(s), rows interleaved; each cell is the median over rounds with [min–max]; "+
		"a ratio is the median of the per-round ratios. Run took %.0f s.\n", cfg.Rounds, res.Seconds)
	if res.CutShort != "" {
		fmt.Fprintf(&b, "\n**Cut short:** %s.\n", res.CutShort)
	}
	if len(res.Summary.Throughput) > 0 {
		fmt.Fprintf(&b, "\n**Throughput**, %s messages per run; CPU per message: the publishing process "+
			"(getrusage RUSAGE_SELF, user+system, over the run) and the sink process (its own getrusage). "+
			"The sink sends a conflated persisted ack at most every %v (or after %d stored publishes).\n\n",
			fmtCount(cfg.Messages), time.Duration(cfg.AckEvery), cfg.AckFrames)
		b.WriteString("| payload | row | msgs/s | × ceiling | publisher CPU/msg | × ceiling | sink CPU/msg |\n")
		b.WriteString("|---|---|---|---|---|---|---|\n")
		for _, r := range res.Summary.Throughput {
			rv, cv := fmtSpread(r.RateVsCeil, fmtRatio), fmtSpread(r.PubCPUVsCeil, fmtRatio)
			if r.Row == RowCeiling {
				rv, cv = "1", "1"
			}
			fmt.Fprintf(&b, "| %d B | %s | %s | %s | %s | %s | %s |\n", r.Size, r.Title,
				fmtSpread(r.MsgsPerSec, fmtRate), rv, fmtSpread(r.PubCPU, fmtNs), cv, fmtSpread(r.SinkCPU, fmtNs))
		}
	}
	if len(res.Summary.Ratios) > 0 {
		b.WriteString("\n**Ratios** (per-round, median [min–max])\n\n")
		fmt.Fprintf(&b, "| payload | fastpub/ceiling msgs/s | fastpub/ceiling publisher CPU/msg | %d producers / 1 producer msgs/s | store on / off msgs/s |\n", cfg.Producers)
		b.WriteString("|---|---|---|---|---|\n")
		for _, r := range res.Summary.Ratios {
			fmt.Fprintf(&b, "| %d B | %s | %s | %s | %s |\n", r.Size, fmtSpread(r.RateVsCeil, fmtRatio),
				fmtSpread(r.PubCPUVsCeil, fmtRatio), fmtSpread(r.NvsOne, fmtRatio), fmtSpread(r.StoreVsOff, fmtRatio))
		}
	}
	if len(res.Summary.Latency) > 0 {
		fmt.Fprintf(&b, "\n**Latency**, paced, %d B payloads, %v per run: the publisher spins to each due time, "+
			"stamps it into the payload and sends; the sink records its arrival (read returned) minus the stamp. "+
			"\"behind\" is how late the last message was sent.\n\n", cfg.LatSize, time.Duration(cfg.LatDur))
		b.WriteString("| rate | row | p50 | p90 | p99 | p99.9 | max | behind at end |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|\n")
		for _, r := range res.Summary.Latency {
			fmt.Fprintf(&b, "| %s/s | %s | %s | %s | %s | %s | %s | %s |\n", fmtCount(r.Rate), r.Title,
				fmtSpread(r.P50, fmtNs), fmtSpread(r.P90, fmtNs), fmtSpread(r.P99, fmtNs),
				fmtSpread(r.P999, fmtNs), fmtSpread(r.Max, fmtNs), fmtSpread(r.Behind, fmtNs))
			if r.VsInline != nil {
				v := r.VsInline
				fmt.Fprintf(&b, "| %s/s | fastpub / inline floor | %s | %s | %s | %s | %s | |\n", fmtCount(r.Rate),
					fmtSpread(v["p50"], fmtRatio), fmtSpread(v["p90"], fmtRatio), fmtSpread(v["p99"], fmtRatio),
					fmtSpread(v["p99.9"], fmtRatio), fmtSpread(v["max"], fmtRatio))
			}
		}
		b.WriteString("\n" + inlineNote(res) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtSpread(s *Spread, f func(float64) string) string {
	if s == nil {
		return ""
	}
	if s.N <= 1 || s.Min == s.Max {
		return f(s.Median)
	}
	return f(s.Median) + " [" + f(s.Min) + "–" + f(s.Max) + "]"
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtRatio(v float64) string { return fmt.Sprintf("%.2f", v) }

func fmtNs(v float64) string {
	switch {
	case v < 1e3:
		return fmt.Sprintf("%.0f ns", v)
	case v < 1e5:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v < 1e6:
		return fmt.Sprintf("%.0f µs", v/1e3)
	case v < 1e9:
		return fmt.Sprintf("%.2f ms", v/1e6)
	}
	return fmt.Sprintf("%.2f s", v/1e9)
}

func fmtCount(n int) string {
	s := fmt.Sprint(n)
	var b []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}

// inlineNote says whether the inline floor kept up in this run: above about
// 100,000 msgs/s one write() per message is expected to fall behind on a
// small machine, and its latency then measures its own queue.
func inlineNote(res *Results) string {
	const behind = int64(time.Millisecond)
	var fell []string
	var worst int64
	for _, r := range res.Summary.Latency {
		if r.Row != RowInline {
			continue
		}
		if r.Behind != nil && int64(r.Behind.Max) > worst {
			worst = int64(r.Behind.Max)
		}
		if r.Behind != nil && int64(r.Behind.Median) > behind {
			fell = append(fell, fmtCount(r.Rate)+"/s")
		}
	}
	note := "The inline floor makes one write() per message; above about 100,000 msgs/s it is expected to fall " +
		"behind on a small machine, and its latency then measures its own queue, not the write. "
	if len(fell) > 0 {
		return note + "In this run it fell more than 1 ms behind (median over rounds) at " + strings.Join(fell, ", ") + "."
	}
	return note + "In this run it kept up at every rate: the last message was sent at most " + fmtNs(float64(worst)) + " late."
}
