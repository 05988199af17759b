package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, args ...string) *config {
	t.Helper()
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags(%q): %v", args, err)
	}
	return c
}

func TestParseFlagsDefaults(t *testing.T) {
	c := mustParse(t)
	checks := []struct {
		name      string
		got, want any
	}{
		{"uri", c.uri, ""},
		{"failover", len(c.failover), 0},
		{"reconnect", c.reconnect, false},
		{"maxOutage", c.maxOutage, time.Duration(0)},
		{"verifyURI", c.verifyURI, ""},
		{"storeBytes", c.storeBytes, 64 << 20},
		{"storeMessages", c.storeMessages, 1 << 20},
		{"messageType", c.messageType, "json"},
		{"duration", c.duration, defaultDuration},
		{"count", c.count, uint64(0)},
		{"rate", c.rate, 0.0},
		{"producers", c.producers, 1},
		{"connections", c.connections, 1},
		{"topics", c.topics, []string{"loadgen"}},
		{"size", c.size, 128},
		{"symbols", len(c.symbols), 8},
		{"ack", c.ack, ackNone},
		{"flushEvery", c.flushEvery, uint64(0)},
		{"api", c.api, apiPublish},
		{"bufferSize", c.bufferSize, 4 << 20},
		{"histUnit", c.histUnit, "us"},
		{"interval", c.interval, time.Second},
		{"verifyTimeout", c.verifyTimeout, 10 * time.Second},
		{"flushTimeout", c.flushTimeout, 30 * time.Second},
		{"connectTimeout", c.connectTimeout, 10 * time.Second},
		{"spin", c.spin, defaultSpinFor},
		{"spinAuto", c.spinAuto, true},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if !strings.HasPrefix(c.clientName, "loadgen-") {
		t.Errorf("clientName = %q", c.clientName)
	}
}

// TestParseFlagsEveryFlag sets each flag and checks where it lands.
func TestParseFlagsEveryFlag(t *testing.T) {
	tmplFile := filepath.Join(t.TempDir(), "tick.json")
	if err := os.WriteFile(tmplFile, []byte(`{"s":"{{symbol}}","n":{{seq}},"v":"{{stamp}}"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args  []string
		check func(c *config) bool
	}{
		{[]string{"--uri", "tcp://h:9007/amps/json"}, func(c *config) bool { return c.uri == "tcp://h:9007/amps/json" }},
		{[]string{"--uri", "tcp://a:9007/amps/json", "--uri", "tcp://b:9007/amps/json", "--uri=tcp://c:9007/amps/json"}, func(c *config) bool {
			return c.uri == "tcp://a:9007/amps/json" && reflect.DeepEqual(c.failover, []string{"tcp://b:9007/amps/json", "tcp://c:9007/amps/json"}) &&
				c.reconnect && len(c.uris()) == 3
		}},
		{[]string{"--reconnect"}, func(c *config) bool { return c.reconnect && c.failover == nil }},
		{[]string{"--reconnect", "--max-outage", "30s"}, func(c *config) bool { return c.maxOutage == 30*time.Second }},
		{[]string{"--uri", "tcp://a:1/amps/json", "--verify", "--verify-uri", "tcp://b:1/amps/json"}, func(c *config) bool { return c.verifyURI == "tcp://b:1/amps/json" }},
		{[]string{"--ack", "persisted"}, func(c *config) bool {
			return c.ack == ackPersisted && c.flushEvery == 0 && c.sendBuffer() == 64<<20 && c.storeMessages == 1<<20
		}},
		{[]string{"--ack", "persisted", "--store-bytes", "1MiB", "--store-messages", "4096"}, func(c *config) bool {
			return c.storeBytes == 1<<20 && c.storeMessages == 4096 && c.sendBuffer() == 1<<20
		}},
		{[]string{"--ack", "persisted", "--flush-every", "100"}, func(c *config) bool { return c.flushEvery == 100 }},
		{[]string{"--message-type", "fix"}, func(c *config) bool { return c.messageType == "fix" }},
		{[]string{"--client-name", "bench"}, func(c *config) bool { return c.clientName == "bench" }},
		{[]string{"--connect-timeout", "3s"}, func(c *config) bool { return c.connectTimeout == 3*time.Second }},
		{[]string{"--count", "2M"}, func(c *config) bool { return c.count == 2_000_000 && c.duration == 0 }},
		{[]string{"--count", "1_000"}, func(c *config) bool { return c.count == 1000 }},
		{[]string{"--duration", "2s"}, func(c *config) bool { return c.duration == 2*time.Second && c.count == 0 }},
		{[]string{"--count", "10", "--duration", "1s"}, func(c *config) bool { return c.count == 10 && c.duration == time.Second }},
		{[]string{"--rate", "50k"}, func(c *config) bool { return c.rate == 50_000 }},
		{[]string{"--rate", "1.5M"}, func(c *config) bool { return c.rate == 1_500_000 }},
		{[]string{"--rate", "250"}, func(c *config) bool { return c.rate == 250 }},
		{[]string{"--spin", "0s"}, func(c *config) bool { return c.spin == 0 && !c.spinAuto }},
		{[]string{"--spin", "auto"}, func(c *config) bool { return c.spinAuto }},
		{[]string{"--spin", "20us"}, func(c *config) bool { return c.spin == 20*time.Microsecond }},
		{[]string{"--producers", "4"}, func(c *config) bool { return c.producers == 4 }},
		{[]string{"--connections", "3"}, func(c *config) bool { return c.connections == 3 && c.totalProducers() == 3 }},
		{[]string{"--topics", "ticks:3"}, func(c *config) bool { return reflect.DeepEqual(c.topics, []string{"ticks-0", "ticks-1", "ticks-2"}) }},
		{[]string{"--topics", "a,b:2,c"}, func(c *config) bool { return reflect.DeepEqual(c.topics, []string{"a", "b-0", "b-1", "c"}) }},
		{[]string{"--size", "1KiB"}, func(c *config) bool { return c.size == 1024 }},
		{[]string{"--size", "64"}, func(c *config) bool { return c.size == 64 }},
		{[]string{"--template", tmplFile}, func(c *config) bool { return c.tmpl != nil && c.tmpl.hasStamp && c.templateFile == tmplFile }},
		{[]string{"--symbols", "X, Y ,Z"}, func(c *config) bool { return reflect.DeepEqual(c.symbols, []string{"X", "Y", "Z"}) }},
		{[]string{"--ack", "processed"}, func(c *config) bool { return c.ack == ackProcessed && c.flushEvery == defaultProcessedN }},
		{[]string{"--ack", "none"}, func(c *config) bool { return c.ack == ackNone }},
		{[]string{"--ack", "processed", "--flush-every", "10"}, func(c *config) bool { return c.flushEvery == 10 }},
		{[]string{"--ack", "processed", "--flush-interval", "5ms"}, func(c *config) bool { return c.flushInterval == 5*time.Millisecond && c.flushEvery == 0 }},
		{[]string{"--flush-timeout", "2s"}, func(c *config) bool { return c.flushTimeout == 2*time.Second }},
		{[]string{"--api", "try"}, func(c *config) bool { return c.api == apiTry }},
		{[]string{"--api", "message"}, func(c *config) bool { return c.api == apiMessage }},
		{[]string{"--api", "publish"}, func(c *config) bool { return c.api == apiPublish }},
		{[]string{"--buffer", "64KiB"}, func(c *config) bool { return c.bufferSize == 64<<10 }},
		{[]string{"--json"}, func(c *config) bool { return c.json }},
		{[]string{"--hist", "lat.hgrm"}, func(c *config) bool { return c.histFile == "lat.hgrm" }},
		{[]string{"--hist-unit", "ms"}, func(c *config) bool { return c.histUnit == "ms" }},
		{[]string{"--quiet"}, func(c *config) bool { return c.quiet }},
		{[]string{"--interval", "250ms"}, func(c *config) bool { return c.interval == 250*time.Millisecond }},
		{[]string{"--verify"}, func(c *config) bool { return c.verify }},
		{[]string{"--verify-timeout", "1s"}, func(c *config) bool { return c.verifyTimeout == time.Second }},
		{[]string{"--pprof", "127.0.0.1:0"}, func(c *config) bool { return c.pprof == "127.0.0.1:0" }},
		{[]string{"--cpuprofile", "cpu.out"}, func(c *config) bool { return c.cpuProfile == "cpu.out" }},
		{[]string{"-count=5"}, func(c *config) bool { return c.count == 5 }}, // one dash works too
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c := mustParse(t, tt.args...)
			if !tt.check(c) {
				t.Errorf("parsed %+v", *c)
			}
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	dir := t.TempDir()
	noStamp := filepath.Join(dir, "nostamp.json")
	os.WriteFile(noStamp, []byte(`{"n":{{seq}}}`), 0o644)
	badField := filepath.Join(dir, "bad.json")
	os.WriteFile(badField, []byte(`{"n":{{sequence}}}`), 0o644)

	tests := []struct {
		args []string
		want string // substring of the error
	}{
		{[]string{"--nosuchflag"}, "flag provided but not defined"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--uri", "http://x"}, "--uri:"},
		{[]string{"--message-type", ""}, "--message-type:"},
		{[]string{"--message-type", "a/b"}, "--message-type:"},
		{[]string{"--message-type", "fix", "--uri", "tcp://h:1/amps/json"}, "with --uri the type is the URI's"},
		{[]string{"--client-name", ""}, "--client-name: must not be empty"},
		{[]string{"--client-name", `a"b`}, "--client-name:"},
		{[]string{"--connect-timeout", "0s"}, "--connect-timeout: must be positive"},
		{[]string{"--connect-timeout", "x"}, "invalid value"},
		{[]string{"--count", "x"}, "--count:"},
		{[]string{"--count", "1.5"}, "--count:"},
		{[]string{"--count", "-3"}, "--count:"},
		{[]string{"--count", "0"}, "--count: give --count or --duration"},
		{[]string{"--duration", "0s"}, "--count: give --count or --duration"},
		{[]string{"--duration", "-1s"}, "--duration: must not be negative"},
		{[]string{"--rate", "fast"}, "--rate:"},
		{[]string{"--rate", "-5"}, "--rate:"},
		{[]string{"--rate", "2G"}, "--rate:"},
		{[]string{"--spin", "-1us"}, "--spin:"},
		{[]string{"--spin", "2s"}, "--spin:"},
		{[]string{"--spin", "sometimes"}, "--spin:"},
		{[]string{"--producers", "0"}, "--producers: must be at least 1"},
		{[]string{"--connections", "0"}, "--connections: must be at least 1"},
		{[]string{"--producers", "100", "--connections", "11"}, "--producers: connections × producers = 1100"},
		{[]string{"--topics", ""}, "--topics:"},
		{[]string{"--topics", "a,,b"}, "--topics:"},
		{[]string{"--topics", "a:0"}, "--topics:"},
		{[]string{"--topics", ":3"}, "--topics:"},
		{[]string{"--topics", "a,a"}, "listed twice"},
		{[]string{"--topics", "a\tb"}, "--topics:"},
		{[]string{"--topics", "x:2000000"}, "more than"},
		{[]string{"--size", "0"}, "--size:"},
		{[]string{"--size", "12XB"}, "--size:"},
		{[]string{"--size", "abc"}, "--size:"},
		{[]string{"--size", "8MiB"}, "--size:"},
		{[]string{"--size", "20", "--verify"}, "--size: --verify needs at least"},
		{[]string{"--template", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--template", badField}, "unknown field {{sequence}}"},
		{[]string{"--template", noStamp, "--verify"}, "{{stamp}}"},
		{[]string{"--template", noStamp, "--size", "10"}, "not both"},
		{[]string{"--symbols", " , "}, "--symbols: empty list"},
		{[]string{"--ack", "all"}, "--ack:"},
		{[]string{"--uri", "tcp://h:1/amps/json", "--uri", "http://x"}, "--uri:"},
		{[]string{"--uri", "tcp://h:1/amps/json", "--uri", "tcp://h:1/amps/json"}, "given twice"},
		{[]string{"--max-outage", "1s"}, "--max-outage: bounds reconnecting"},
		{[]string{"--reconnect", "--max-outage", "-1s"}, "--max-outage: must not be negative"},
		{[]string{"--verify-uri", "tcp://h:1/amps/json"}, "--verify-uri: names the verifier's server: add --verify"},
		{[]string{"--verify", "--verify-uri", "tcp://h:1/amps/json"}, "--verify-uri: names a server of the --uri group"},
		{[]string{"--uri", "tcp://h:1/amps/json", "--verify", "--verify-uri", "http://x"}, "--verify-uri:"},
		{[]string{"--store-bytes", "1MiB"}, "--store-bytes: sizes the publish store of --ack persisted"},
		{[]string{"--store-messages", "1000"}, "--store-messages: sizes the publish store"},
		{[]string{"--ack", "persisted", "--buffer", "1MiB"}, "--buffer: with --ack persisted the store's --store-bytes"},
		{[]string{"--ack", "persisted", "--store-bytes", "1000"}, "--store-bytes:"},
		{[]string{"--ack", "persisted", "--store-bytes", "2GiB"}, "--store-bytes:"},
		{[]string{"--ack", "persisted", "--store-messages", "10"}, "--store-bytes: store: invalid limits: Messages 10"},
		{[]string{"--ack", "persisted", "--store-messages", "1G"}, "--store-messages:"},
		{[]string{"--ack", "persisted", "--store-messages", "x"}, "--store-messages:"},
		{[]string{"--flush-every", "10"}, "add --ack processed"},
		{[]string{"--flush-interval", "1s"}, "add --ack processed"},
		{[]string{"--ack", "processed", "--flush-every", "0"}, "--flush-every: must be at least 1"},
		{[]string{"--ack", "processed", "--flush-every", "x"}, "--flush-every:"},
		{[]string{"--ack", "processed", "--flush-interval", "-1s"}, "--flush-interval: must not be negative"},
		{[]string{"--flush-timeout", "0s"}, "--flush-timeout: must be positive"},
		{[]string{"--api", "fast"}, "--api:"},
		{[]string{"--buffer", "1000"}, "--buffer:"},
		{[]string{"--buffer", "2KiB"}, "--buffer:"},
		{[]string{"--buffer", "x"}, "--buffer:"},
		{[]string{"--hist-unit", "s"}, "--hist-unit:"},
		{[]string{"--interval", "1ms"}, "--interval: must be at least 10ms"},
		{[]string{"--verify-timeout", "0s"}, "--verify-timeout: must be positive"},
		{[]string{"--verify", "--topics", "t:100000", "--producers", "50"}, "--verify: producers × topics"},
		{[]string{"--json=maybe"}, "invalid boolean"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			var pe *os.PathError
			if !errors.Is(err, errUsage) && !errors.As(err, &pe) {
				t.Errorf("error %v matches neither errUsage nor *os.PathError", err)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseFlags([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	if strings.Count(out.String(), "Usage: loadgen") != 1 {
		t.Errorf("help output:\n%s", out.String())
	}
}

// TestUsageListsEveryFlag keeps the hand-written usage text in step with the
// flag set.
func TestUsageListsEveryFlag(t *testing.T) {
	c := defaultConfig()
	fs, _ := c.flagSet(io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(usageText, "  --"+f.Name+" ") {
			t.Errorf("usage text does not document --%s", f.Name)
		}
	})
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"128", 128, true}, {"128B", 128, true}, {"4KiB", 4096, true}, {"4K", 4096, true}, {"4kB", 4096, true},
		{"1MiB", 1 << 20, true}, {"1M", 1 << 20, true}, {"1GiB", 1 << 30, true}, {" 2 KiB ", 2048, true},
		{"", 0, false}, {"KiB", 0, false}, {"1TiB", 0, false}, {"-1", 0, false}, {"99999999999999", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseCountAndRate(t *testing.T) {
	counts := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"7", 7, true}, {"2k", 2000, true}, {"2K", 2000, true}, {"3M", 3_000_000, true},
		{"1G", 1_000_000_000, true}, {"1.5k", 1500, true}, {"1_000_000", 1_000_000, true},
		{"1.5", 0, false}, {"", 0, false}, {"k", 0, false}, {"-1", 0, false}, {"NaN", 0, false}, {"Inf", 0, false},
	}
	for _, tt := range counts {
		got, err := parseCount(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseCount(%q) = %d, %v; want %d, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if r, err := parseRate("2.5M"); err != nil || r != 2.5e6 {
		t.Errorf("parseRate(2.5M) = %v, %v", r, err)
	}
	if _, err := parseRate("x"); err == nil {
		t.Error("parseRate(x): no error")
	}
}
