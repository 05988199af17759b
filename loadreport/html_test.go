package loadreport

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// browser returns a headless-capable Chromium, or skips the test.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium installed (Debian: apt-get install chromium): the HTML report is not opened in a browser")
	return ""
}

var (
	consoleLine = regexp.MustCompile(`(?m)^.*CONSOLE.*$`)
	// What a failed fetch or a script error looks like in Chromium's log.
	browserError = regexp.MustCompile(`(?i)uncaught|net::ERR_|failed to load|refused to`)
)

// render opens path in headless Chromium and returns the DOM after scripts
// ran, and the console and network messages Chromium logged.
func render(t *testing.T, chrome, path string) (dom, log string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-extensions", "--user-data-dir="+profile, "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=5000", "--dump-dom", "file://"+path)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, errOut.String())
	}
	return out.String(), errOut.String()
}

// checkPage fails unless the page rendered its charts with no script
// error, console error or failed fetch.
func checkPage(dom, log string, charts int) []string {
	var problems []string
	if !strings.Contains(dom, `data-rendered="yes"`) {
		problems = append(problems, "the page's closing script did not run")
	}
	if !strings.Contains(dom, `data-errors="0"`) {
		problems = append(problems, "script errors on the page")
	}
	if want := `data-charts="` + string(rune('0'+charts)) + `"`; !strings.Contains(dom, want) {
		problems = append(problems, "want "+want)
	}
	for _, l := range consoleLine.FindAllString(log, -1) {
		problems = append(problems, "console: "+l)
	}
	for _, l := range strings.Split(log, "\n") {
		if browserError.MatchString(l) {
			problems = append(problems, "browser: "+l)
		}
	}
	return problems
}

// TestHTMLInBrowser opens the HTML report in headless Chromium: it renders
// with no console error and no fetch, and both charts are drawn.
func TestHTMLInBrowser(t *testing.T) {
	chrome := browser(t)
	r, _ := run(t, "0000000a", 7, 20000, 1_700_000_000_000)
	r.Command = "loadgen --duration 2s"
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	// Self-contained: nothing to fetch (the SVG namespaces are names, not fetches).
	for _, bad := range []string{"<link", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("the page has %q: it must not fetch anything", bad)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, log := render(t, chrome, path)
	for _, p := range checkPage(dom, log, 2) {
		t.Error(p)
	}
	for _, want := range []string{"Throughput over time", "Latency by percentile", "publish-to-wire latency", "Parameters and machine", "loadgen --duration 2s"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	// The check itself catches a broken page.
	broken := strings.Replace(page, `document.body.dataset.rendered = "yes";`, `undefinedFunction(); document.body.dataset.rendered = "yes";`, 1)
	bp := filepath.Join(dir, "broken.html")
	os.WriteFile(bp, []byte(broken), 0o644)
	if dom, log := render(t, chrome, bp); len(checkPage(dom, log, 2)) == 0 {
		t.Error("a page with a script error passed the check")
	}
}
