package main

import (
	"strings"
	"testing"
)

// TestRenderOnlyPerMessageFields: a payload with nothing that changes per
// message is rendered once; the stamp (--verify) and every field make it
// per message.
func TestRenderOnlyPerMessageFields(t *testing.T) {
	for _, size := range []int{1, 9, 10, 53, 128, 4096} {
		p := plainTemplate(size)
		if p.perMessage() || len(p.render(nil, &fields{})) != size || p.hasStamp {
			t.Errorf("plainTemplate(%d): perMessage %v, %d bytes, stamp %v", size, p.perMessage(), len(p.render(nil, &fields{})), p.hasStamp)
		}
	}
	if s := sizedTemplate(128); !s.perMessage() {
		t.Error("the stamped payload (--verify) is not rendered per message")
	}
	for _, src := range []string{"{{seq}}", "x{{ts}}", "{{symbol}}", "{{producer}}", "{{stamp}}"} {
		tm, err := parseTemplate([]byte(src))
		if err != nil || !tm.perMessage() {
			t.Errorf("%q: perMessage false (%v)", src, err)
		}
	}
	if tm, _ := parseTemplate([]byte(`{"fixed":1}`)); tm.perMessage() {
		t.Error("a literal template is rendered per message")
	}
	// Without --verify the generated payload carries no stamp; with it,
	// every message has its own.
	c := mustParse(t, "--count", "100", "--quiet")
	if c.verify {
		t.Fatal("verify on by default")
	}
}

// TestHarnessCalibration runs the producer loop without the publish call:
// it measures a positive cost and touches no client (there is none).
func TestHarnessCalibration(t *testing.T) {
	for _, args := range [][]string{{}, {"--verify"}, {"--template", "templates/tick.json"}} {
		c := mustParse(t, args...)
		tm := plainTemplate(c.size)
		if c.verify {
			tm = sizedTemplate(c.size)
		}
		if c.tmpl != nil {
			tm = c.tmpl
		}
		ns := calibrateHarness(c, tm, 7, planWire(c.bufferSize, 100, 1, false), []int{27})
		if ns <= 0 || ns > 10_000 {
			t.Errorf("%q: harness %.2f ns/msg", args, ns)
		}
	}
}

// TestOverheadInReport: a flat-out run reports loadgen's own cost, the
// publish cost it measured, their ratio, and the process's CPU per message.
func TestOverheadInReport(t *testing.T) {
	code, r, stderr := runJSON(t, nil, "--count", "200k", "--quiet")
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	rt := r.Runtime
	if rt.HarnessNs <= 0 || rt.PublishNs <= 0 || rt.OverheadRatio <= 0 {
		t.Fatalf("runtime %+v", rt)
	}
	if d := rt.OverheadRatio - rt.HarnessNs/rt.PublishNs; d > 1e-9 || d < -1e-9 {
		t.Errorf("overhead ratio %v, harness/publish %v", rt.OverheadRatio, rt.HarnessNs/rt.PublishNs)
	}
	if rt.CPUUser+rt.CPUSys <= 0 || rt.CPUNsPerM <= 0 {
		t.Errorf("CPU not measured: %+v", rt)
	}
	code, out, _ := runT(t, nil, "--count", "50k", "--quiet")
	if code != exitOK || !strings.Contains(out, "of the publish cost it measured") || !strings.Contains(out, "getrusage") {
		t.Errorf("text report:\n%s", out)
	}
	// Paced, there is no publish cost to set it against.
	code, r, _ = runJSON(t, nil, "--count", "100", "--rate", "5000", "--quiet")
	if code != exitOK || r.Runtime.PublishNs != 0 || r.Runtime.HarnessNs <= 0 {
		t.Errorf("paced: exit %d runtime %+v", code, r.Runtime)
	}
}
