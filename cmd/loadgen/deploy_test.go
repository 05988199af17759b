package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// manifestArgs reads the loadgen container's args from the example
// Kubernetes manifest: the "- " items under "args:".
func manifestArgs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var args []string
	in, indent := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		lead := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case trimmed == "args:":
			in, indent = true, lead
		case in && strings.HasPrefix(trimmed, "- ") && lead > indent:
			v := strings.TrimSpace(strings.TrimPrefix(trimmed, "- "))
			if u, err := strconv.Unquote(v); err == nil {
				v = u
			}
			args = append(args, v)
		case in && trimmed != "" && !strings.HasPrefix(trimmed, "#"):
			in = false
		}
	}
	if len(args) == 0 {
		t.Fatalf("%s: no args found", path)
	}
	return args
}

// TestDeployManifestArgs runs the example Indexed Job's loadgen arguments
// through loadgen's flag parser, with what Kubernetes would substitute, so
// the manifest cannot drift from the flags. Each pod's client name must
// derive from its completion index, and its outputs must be distinct.
func TestDeployManifestArgs(t *testing.T) {
	args := manifestArgs(t, filepath.Join("..", "..", "deploy", "loadgen-indexed-job.yaml"))
	names, outs := map[string]bool{}, map[string]bool{}
	for _, index := range []string{"0", "1", "2"} {
		env := strings.NewReplacer("$(JOB_COMPLETION_INDEX)", index, "$(AMPS_URI)", "tcp://amps.example.svc:9007/amps/json")
		var sub []string
		for _, a := range args {
			sub = append(sub, env.Replace(a))
		}
		if strings.Contains(strings.Join(sub, " "), "$(") {
			t.Fatalf("an unknown $(VAR) in %q", sub)
		}
		c, err := parseFlags(sub, nil)
		if err != nil {
			t.Fatalf("index %s: %q: %v", index, sub, err)
		}
		if !strings.HasSuffix(c.clientName, "-"+index) || c.uri == "" || c.hlogFile == "" || c.jsonFile == "" {
			t.Errorf("index %s: client %q uri %q hlog %q json %q", index, c.clientName, c.uri, c.hlogFile, c.jsonFile)
		}
		names[c.clientName] = true
		outs[c.hlogFile], outs[c.jsonFile] = true, true
	}
	if len(names) != 3 || len(outs) != 6 {
		t.Errorf("client names %v, outputs %v: each pod needs its own", names, outs)
	}
}
