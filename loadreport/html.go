package loadreport

// The HTML report: one self-contained page (inline CSS and SVG, no script
// or font fetched from anywhere) with throughput over time, the latency
// percentile spectrum of each measured kind, the run's parameters and the
// machine. Charts are drawn by gonum.org/v1/plot into SVG: a maintained
// plotting library with log axes, legends and tick labelling, rather than
// hand-made SVG paths.

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WriteHTML writes the report as one self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		return err
	}
	page := htmlPage{R: r, Text: text.String(), Title: "loadgen report"}
	if r.Merged != nil {
		page.Title = fmt.Sprintf("loadgen report: %d runs merged", len(r.Merged.Runs))
	}
	var err error
	if page.Throughput, err = throughputChart(r); err != nil {
		return fmt.Errorf("throughput chart: %w", err)
	}
	if page.Spectrum, err = spectrumChart(r); err != nil {
		return fmt.Errorf("latency chart: %w", err)
	}
	for _, k := range r.Latency.Kinds() {
		page.Kinds = append(page.Kinds, k)
	}
	page.Params = params(r)
	return pageTemplate.Execute(w, page)
}

type htmlPage struct {
	Title      string
	R          *Report
	Text       string
	Throughput template.HTML // inline SVG, or "" without a timeline
	Spectrum   template.HTML // inline SVG, or "" without a latency
	Kinds      []Kind
	Params     [][2]string
}

// params are the run's parameters and machine, as table rows.
func params(r *Report) [][2]string {
	wl, m := &r.Workload, &r.Machine
	rows := [][2]string{
		{"command", r.Command},
		{"target", r.Target.URI},
		{"workload", wl.line1()},
		{"", wl.line2()},
		{"messages", Commas(r.Messages)},
	}
	if len(r.Target.Failover) > 0 {
		rows = append(rows, [2]string{"fails over to", strings.Join(r.Target.Failover, ", ")})
	}
	if wl.StoreBytes > 0 {
		rows = append(rows, [2]string{"store", wl.storeText(r.Resilience)})
	}
	if st := r.Store; st != nil {
		rows = append(rows, [2]string{"store disk", st.DiskText()}, [2]string{"durable", st.DurableText()}, [2]string{"recovery", st.RecoveryText()})
	}
	if rs := r.Resilience; rs != nil {
		rows = append(rows, [2]string{"reconnects", rs.ReconnectText()}, [2]string{"failed writes", rs.FailedLine()})
	}
	rows = append(rows, [][2]string{
		{"duration", Secs(r.Duration)},
		{"throughput", Commas(uint64(math.Round(r.MsgsPerSec))) + " msg/s"},
		{"cpu", fmt.Sprintf("%.0f ns/msg (whole process)", r.Runtime.CPUNsPerM)},
		{"overhead", r.Runtime.overheadText()},
		{"machine", m.CPU + "; " + m.CoresText()},
		{"", fmt.Sprintf("%s/%s, %s, GOMAXPROCS %d, host %s", m.GOOS, m.GOARCH, m.GoVersion, m.GOMAXPROCS, m.Hostname)},
	}...)
	if r.Merged != nil {
		rows[0] = [2]string{"runs", strings.Join(r.Merged.Runs, ", ")}
		rows = append(rows, [2]string{"machines", strings.Join(r.Merged.Machines, ", ")})
		for _, d := range r.Merged.Differs {
			rows = append(rows, [2]string{"differs", d})
		}
	}
	return rows
}

// svg renders p at w × h into inline SVG (without the XML declaration,
// which has no place inside HTML).
func svg(p *plot.Plot, w, h vg.Length) (template.HTML, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	s := b.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return template.HTML(s), nil
}

// throughputChart is messages per second in each timeline interval.
func throughputChart(r *Report) (template.HTML, error) {
	if len(r.Timeline) < 2 {
		return "", nil
	}
	var pts plotter.XYs
	for i := 1; i < len(r.Timeline); i++ {
		a, b := r.Timeline[i-1], r.Timeline[i]
		if dt := b.T - a.T; dt > 0 {
			rate := float64(b.Messages-a.Messages) / dt
			pts = append(pts, plotter.XY{X: a.T, Y: rate}, plotter.XY{X: b.T, Y: rate})
		}
	}
	if len(pts) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "Throughput over time"
	p.X.Label.Text = "seconds since the start"
	p.Y.Label.Text = "messages per second"
	p.Y.Min = 0
	p.Y.Tick.Marker = humanTicks{}
	p.Add(plotter.NewGrid())
	l, err := plotter.NewLine(pts)
	if err != nil {
		return "", err
	}
	l.Color = plotutil.Color(0)
	l.Width = vg.Points(1.5)
	p.Add(l)
	return svg(p, 8*vg.Inch, 3.2*vg.Inch)
}

// spectrumChart is the latency percentile spectrum of every kind: the
// value at each percentile, the x axis in "nines" (1/(1−p) on a log
// scale), as HdrHistogram's own plots draw it.
func spectrumChart(r *Report) (template.HTML, error) {
	kinds := r.Latency.Kinds()
	if len(kinds) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = "Latency by percentile"
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ninesTicks{}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = durTicks{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	maxX := 1.0
	for i, k := range kinds {
		h := k.Stats.Hist
		if h == nil {
			continue
		}
		var pts plotter.XYs
		n := h.TotalCount()
		for _, q := range spectrumQuantiles {
			if 1/(1-q/100) > float64(n) { // beyond what n values can tell
				break
			}
			pts = append(pts, plotter.XY{X: 1 / (1 - q/100), Y: math.Max(float64(h.ValueAtQuantile(q)), 1)})
		}
		if len(pts) < 2 {
			continue
		}
		maxX = math.Max(maxX, pts[len(pts)-1].X)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return "", err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (n=%s)", k.Stats.Name, Commas(uint64(n))), l)
	}
	p.X.Min, p.X.Max = 1, math.Max(maxX, 10)
	p.Y.Max *= 30 // room above the curves for the legend
	return svg(p, 8*vg.Inch, 4.5*vg.Inch)
}

// spectrumQuantiles are the percentiles the spectrum is drawn at: dense
// near each power of ten of 1/(1−p).
var spectrumQuantiles = func() []float64 {
	var q []float64
	for d := 0; d < 6; d++ { // 0 … 99.9999
		lo := 1 - math.Pow(10, -float64(d))
		for i := 0; i < 20; i++ {
			q = append(q, 100*(lo+(1-lo)*0.9*float64(i)/20))
		}
	}
	return append(q, 100*(1-1e-6))
}()

// ninesTicks label 1/(1−p) in percent: 0%, 90%, 99%, 99.9%, …
type ninesTicks struct{}

func (ninesTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for x := 1.0; x <= max*1.0001; x *= 10 {
		label := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.6f", 100*(1-1/x)), "0"), ".") + "%"
		ts = append(ts, plot.Tick{Value: x, Label: label})
	}
	return ts
}

// durTicks label nanoseconds at powers of ten: 100ns, 1µs, 10µs, …
type durTicks struct{}

func (durTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for v := math.Pow(10, math.Floor(math.Log10(math.Max(min, 1)))); v <= max*10; v *= 10 {
		ts = append(ts, plot.Tick{Value: v, Label: Dur(int64(v))})
		for m := 2.0; m < 10; m++ {
			ts = append(ts, plot.Tick{Value: v * m})
		}
	}
	return ts
}

// humanTicks label counts as 0, 500k, 1M, ….
type humanTicks struct{}

func (humanTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = Human(ts[i].Value)
		}
	}
	return ts
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"dur": Dur}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<script>
// Script errors on this page, counted for tests and for anyone checking.
window.loadgenErrors = [];
window.addEventListener("error", function (e) { window.loadgenErrors.push(String(e.message)); });
</script>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; } td, th { padding: .2em .8em .2em 0; text-align: left; vertical-align: top; }
th { font-weight: 600; white-space: nowrap; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.result { font-weight: 700; } .ok { color: #176117; } .failed { color: #a31515; } .warn { color: #8a5a00; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: .85em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="result {{if .R.OK}}ok{{else}}failed{{end}}">{{if .R.OK}}{{if .R.Interrupted}}INTERRUPTED{{else}}OK{{end}}{{else}}FAILED: {{range .R.Failures}}{{.}}; {{end}}{{end}}</p>
{{range .R.Warnings}}<p class="warn">warning: {{.}}</p>
{{end}}
<h2>Throughput</h2>
{{if .Throughput}}<figure id="chart-throughput" class="chart">{{.Throughput}}</figure>{{else}}<p>No timeline (the run was shorter than one interval).</p>{{end}}
<h2>Latency</h2>
{{if .Spectrum}}<figure id="chart-latency" class="chart">{{.Spectrum}}</figure>{{else}}<p>No latency measured.</p>{{end}}
<table>
<tr><th>kind</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>measures</th></tr>
{{range .Kinds}}<tr><th>{{.Stats.Name}}</th><td class="num">{{.Stats.Count}}</td><td class="num">{{dur .Stats.P50}}</td><td class="num">{{dur .Stats.P90}}</td><td class="num">{{dur .Stats.P99}}</td><td class="num">{{dur .Stats.P999}}</td><td class="num">{{dur .Stats.Max}}</td><td>{{.Stats.What}}</td></tr>
{{end}}</table>
{{with .R.Resilience}}{{if .Events}}<h2>Connection events</h2>
<table id="events">
<tr><th>t</th>{{if $.R.Merged}}<th>run</th>{{end}}<th>connection</th><th>event</th><th>server</th><th>attempt</th><th>replayed</th><th>error</th></tr>
{{range .Events}}<tr><td class="num">{{printf "%.3fs" .T}}</td>{{if $.R.Merged}}<td>{{.Run}}</td>{{end}}<td class="num">{{.Conn}}</td><td>{{.Kind}}</td><td>{{.URI}}</td><td class="num">{{if .Attempt}}{{.Attempt}}{{end}}</td><td class="num">{{if .Replayed}}{{.Replayed}}{{end}}</td><td>{{.Err}}</td></tr>
{{end}}</table>
{{if .EventsDropped}}<p>{{.EventsDropped}} more event(s) counted, not kept.</p>{{end}}
{{end}}{{end}}<h2>Parameters and machine</h2>
<table>
{{range .Params}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>
{{end}}</table>
<h2>Text report</h2>
<pre>{{.Text}}</pre>
<script>
// Marks the page rendered, for tests and for anyone checking: how many
// charts drew something.
document.body.dataset.charts = String(document.querySelectorAll("figure.chart svg path").length > 0 ? document.querySelectorAll("figure.chart svg").length : 0);
document.body.dataset.errors = String(window.loadgenErrors.length);
document.body.dataset.rendered = "yes";
</script>
</body>
</html>
`))
