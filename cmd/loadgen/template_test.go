package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTemplateFields(t *testing.T) {
	tm, err := parseTemplate([]byte(`{"sym":"{{symbol}}","seq":{{ seq }},"ts":{{ts}},"p":{{producer}},"v":"{{stamp}}"}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !tm.hasStamp {
		t.Error("hasStamp false")
	}
	f := fields{seq: 42, ts: 1_700_000_000_123_456_789, producer: 3, symbol: "IBM", run: 0xdeadbeef}
	got := string(tm.render(nil, &f))
	want := `{"sym":"IBM","seq":42,"ts":1700000000123456789,"p":3,"v":"` +
		"LGdeadbeefP00000003S000000000000002aT" + fmt.Sprintf("%016x", f.ts) + `"}`
	if got != want {
		t.Errorf("render:\n got %s\nwant %s", got, want)
	}
	if n := tm.maxLen([]string{"IBM", "GOOGL"}); n < len(got) {
		t.Errorf("maxLen %d < rendered %d", n, len(got))
	}
}

func TestParseTemplateVerbatim(t *testing.T) {
	tests := []struct{ src, want string }{
		{"plain", "plain"},
		{"plain\n", "plain"},           // one trailing newline dropped
		{"plain\r\n", "plain"},         // CRLF too
		{"two\n\n", "two\n"},           // only one
		{"a { b } {c}", "a { b } {c}"}, // single braces are literal
		{"{{seq}}{{seq}}", "77"},
	}
	for _, tt := range tests {
		tm, err := parseTemplate([]byte(tt.src))
		if err != nil {
			t.Fatalf("%q: %v", tt.src, err)
		}
		if got := string(tm.render(nil, &fields{seq: 7})); got != tt.want {
			t.Errorf("%q renders %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestParseTemplateErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "empty template"},
		{"\n", "empty template"},
		{"a {{seq", "line 1: {{ without }}"},
		{"a\nb\n{{price}}", "line 3: unknown field {{price}}"},
		{"{{}}", "unknown field {{}}"},
	}
	for _, tt := range tests {
		_, err := parseTemplate([]byte(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestSizedTemplate: the generated payload has exactly the requested size,
// carries a stamp from stampLen bytes on, and is JSON from 71.
func TestSizedTemplate(t *testing.T) {
	f := fields{seq: 123456, ts: 1_700_000_000_000_000_000, producer: 7, run: 1}
	for size := 1; size <= 300; size++ {
		tm := sizedTemplate(size)
		b := tm.render(nil, &f)
		if len(b) != size {
			t.Fatalf("size %d: rendered %d bytes", size, len(b))
		}
		if tm.maxLen(nil) != size {
			t.Fatalf("size %d: maxLen %d", size, tm.maxLen(nil))
		}
		wantStamp := size >= stampLen
		if tm.hasStamp != wantStamp {
			t.Fatalf("size %d: hasStamp %v", size, tm.hasStamp)
		}
		if wantStamp {
			i := bytes.Index(b, runPrefix(1))
			st, ok := parseStamp(b[i:])
			if i < 0 || !ok || st.seq != 123456 || st.who != 7 || st.ts != f.ts || st.marker {
				t.Fatalf("size %d: stamp %+v ok %v in %s", size, st, ok, b)
			}
		}
		if size >= stampLen+jsonOverhead && !(b[0] == '{' && b[len(b)-1] == '}') {
			t.Fatalf("size %d: not a JSON object: %s", size, b)
		}
	}
}

func TestStampRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		run, who, seq, ts := r.Uint32(), uint64(r.Uint32()), r.Uint64(), r.Int64()
		kind := byte('P')
		if i%2 == 1 {
			kind = 'E'
		}
		b := appendStamp(nil, run, kind, who, seq, ts)
		if len(b) != stampLen {
			t.Fatalf("stamp length %d, want %d", len(b), stampLen)
		}
		if !bytes.HasPrefix(b, runPrefix(run)) {
			t.Fatalf("%s does not start with %s", b, runPrefix(run))
		}
		st, ok := parseStamp(b)
		if !ok || st.who != who || st.seq != seq || st.ts != ts || st.marker != (kind == 'E') {
			t.Fatalf("%s parsed as %+v ok %v", b, st, ok)
		}
	}
	for _, bad := range []string{"", "LG0000000", "LG00000001X00000000S0000000000000000T0000000000000000", "LG00000001P0000000gS0000000000000000T0000000000000000"} {
		if _, ok := parseStamp([]byte(bad)); ok {
			t.Errorf("parseStamp(%q) ok", bad)
		}
	}
}

func TestHex8(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, x := range append([]uint32{0, 1, 9, 10, 15, 16, 0xffffffff, 0x12345678, 0x9abcdef0}, r.Uint32(), r.Uint32(), r.Uint32()) {
		if got, want := string(appendHex8(nil, x)), fmt.Sprintf("%08x", x); got != want {
			t.Errorf("appendHex8(%#x) = %s, want %s", x, got, want)
		}
	}
}

// TestShippedTemplate: templates/tick.json renders valid JSON.
func TestShippedTemplate(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("templates", "tick.json"))
	if err != nil {
		t.Fatal(err)
	}
	tm, err := parseTemplate(src)
	if err != nil {
		t.Fatal(err)
	}
	b := tm.render(nil, &fields{seq: 1, ts: 2, symbol: "IBM", run: 3})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["symbol"] != "IBM" || !tm.hasStamp {
		t.Errorf("%s: %v %v", b, err, m)
	}
}
