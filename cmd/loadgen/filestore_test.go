package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/store"
	"github.com/fastpub/fastpub/store/filestore"
)

// TestStoreFlags: --store, --durability, --sync-interval, --sync-bytes:
// what they set, and the combinations refused.
func TestStoreFlags(t *testing.T) {
	c := mustParse(t, "--store", "d")
	if c.storeDir != "d" || c.ack != ackPersisted || c.clientName != "loadgen" || c.durability != filestore.DurabilityNone ||
		c.syncInterval != filestore.DefaultSyncInterval || c.syncBytes != filestore.DefaultSyncBytes || c.sendBuffer() != c.storeBytes {
		t.Errorf("--store d: %+v", c)
	}
	if c.connName(1) != "loadgen-1" {
		t.Errorf("connName(1) = %q", c.connName(1))
	}
	c = mustParse(t, "--store", "d", "--ack", "persisted", "--durability", "group", "--sync-interval", "5ms", "--sync-bytes", "64KiB",
		"--client-name", "feed", "--store-bytes", "1MiB", "--store-messages", "4096")
	if c.durability != filestore.DurabilityGroup || c.syncInterval != 5*time.Millisecond || c.syncBytes != 64<<10 || c.clientName != "feed" || c.storeBytes != 1<<20 {
		t.Errorf("group: %+v", c)
	}
	if c := mustParse(t, "--store", "d", "--durability", "every-publish"); c.durability != filestore.DurabilityEveryPublish {
		t.Errorf("every-publish: %v", c.durability)
	}
	if c := mustParse(t); c.storeDir != "" || !strings.HasPrefix(c.clientName, "loadgen-") {
		t.Errorf("without --store: %q %q", c.storeDir, c.clientName)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", "d", "--ack", "none"}, "--store: keeps the publishes of --ack persisted"},
		{[]string{"--store", "d", "--ack", "processed"}, "with --ack processed there is nothing to keep"},
		{[]string{"--store", ""}, "--store: needs a directory"},
		{[]string{"--durability", "group"}, "--durability: is a file store's setting: add --store DIR"},
		{[]string{"--ack", "persisted", "--sync-interval", "1ms"}, "--sync-interval: is a file store's setting"},
		{[]string{"--sync-bytes", "64KiB"}, "--sync-bytes: is a file store's setting"},
		{[]string{"--store", "d", "--durability", "fast"}, `--durability: "fast": want none, group or every-publish`},
		{[]string{"--store", "d", "--sync-interval", "1ms"}, "--sync-interval: paces the group commit: add --durability group"},
		{[]string{"--store", "d", "--durability", "every-publish", "--sync-bytes", "64KiB"}, "--sync-bytes: paces the group commit"},
		{[]string{"--store", "d", "--durability", "group", "--sync-interval", "0s"}, "--sync-interval: 0s: want more than 0"},
		{[]string{"--store", "d", "--durability", "group", "--sync-interval", "11s"}, "--sync-interval: 11s"},
		{[]string{"--store", "d", "--durability", "group", "--sync-bytes", "1KiB"}, "--sync-bytes: 1024: want 4KiB to 1GiB"},
		{[]string{"--store", "d", "--durability", "group", "--sync-bytes", "lots"}, "--sync-bytes:"},
		{[]string{"--store", "d", "--client-name", "a/b"}, "must not hold a slash"},
		{[]string{"--store", "d", "--buffer", "1MiB"}, "--buffer: with --ack persisted"},
		{[]string{"--store", "d", "--store-bytes", "100KiB"}, "--store-bytes:"},
	} {
		_, err := parseFlags(tc.args, io.Discard)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
	if code, _, stderr := runT(t, nil, "--store", "d", "--ack", "none"); code != exitUsage || !strings.Contains(stderr, "--store:") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

// storeArgs are the small stores of the end-to-end tests (5 MiB of disk
// each).
func storeArgs(dir string, more ...string) []string {
	return append([]string{"--store", dir, "--store-bytes", "1MiB", "--store-messages", "4096", "--quiet"}, more...)
}

// TestFileStoreRun: two connections with file stores in group commit,
// verified; the report's store figures; a second run with the same
// directory resumes the stores (the embedded server is told their
// persisted sequences: no publish gap) and loses nothing.
func TestFileStoreRun(t *testing.T) {
	dir := t.TempDir()
	args := storeArgs(dir, "--durability", "group", "--sync-interval", "1ms", "--connections", "2",
		"--duration", "300ms", "--rate", "10k", "--verify", "--flush-every", "500")
	for i := range 2 {
		code, r, stderr := runJSON(t, nil, args...)
		if code != exitOK || !r.OK {
			t.Fatalf("run %d: exit %d, failures %v\n%s", i, code, r.Failures, stderr)
		}
		wl := r.Workload
		if wl.StoreKind != "file" || wl.StoreDir != dir || wl.Durability != "group" || wl.SyncInterval != 0.001 || wl.SyncBytes != 1<<20 || wl.StoreBytes != 1<<20 {
			t.Errorf("run %d: workload %+v", i, wl)
		}
		s := r.Store
		if s == nil {
			t.Fatalf("run %d: no store part", i)
		}
		if s.Stores != 2 || s.SegmentBytes != 1<<20 || s.BytesOnDisk <= int64(s.Segments)*(1<<20) || s.Segments < 2 ||
			s.BytesOnDiskPeak < s.BytesOnDisk || s.SegmentsPeak < s.Segments || s.DurableLagMax < s.DurableLagEnd ||
			s.Syncs == 0 || s.Errors != 0 || s.Recovered != 0 || s.Lost != 0 || s.LostRanges != 0 || s.RecoveredRecords != 0 {
			t.Errorf("run %d: store %+v", i, s)
		}
		if v := r.Verify; v == nil || v.Expected == 0 || v.Received != v.Expected || v.Lost+v.Duplicated+v.OutOfOrder != 0 {
			t.Errorf("run %d: verify %+v", i, r.Verify)
		}
		if rs := r.Resilience; rs == nil || rs.Gaps != 0 || rs.Unpersisted != 0 {
			t.Errorf("run %d: resilience %+v", i, rs)
		}
		if r.Server == nil || r.Server.Publishes != r.Messages {
			t.Errorf("run %d: server %+v, messages %d", i, r.Server, r.Messages)
		}
		var txt bytes.Buffer
		r.WriteText(&txt)
		for _, want := range []string{"file store in " + dir, "durability group (msync every 1ms", "store disk ", "durable     lag max", "recovery    at open: 0 record(s)"} {
			if !strings.Contains(txt.String(), want) {
				t.Errorf("run %d: text lacks %q:\n%s", i, want, txt.String())
			}
		}
	}
	for _, name := range []string{"loadgen-0", "loadgen-1"} {
		if _, err := os.Stat(filepath.Join(dir, name, "meta")); err != nil {
			t.Errorf("store of %s: %v", name, err)
		}
	}
	// The JSON field names.
	_, out, _ := runT(t, nil, storeArgs(dir, "--durability", "group", "--count", "100", "--json")...)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"bytes_on_disk"`, `"bytes_on_disk_peak"`, `"segments_peak"`, `"durable_lag_max"`, `"durable_lag_end"`, `"syncs"`,
		`"append_waits"`, `"recovered_records"`, `"torn_bytes"`, `"lost_ranges"`, `"recovered"`} {
		if !strings.Contains(string(raw["store"]), f) {
			t.Errorf("JSON store lacks %s: %s", f, raw["store"])
		}
	}
}

// TestFileStoreResumesUnpersisted: a store that an earlier process left
// with frames the server never persisted (written here as that process
// would have) is resumed: the client replays them at its first logon, the
// embedded server accepts them, and the run continues the sequence.
func TestFileStoreResumesUnpersisted(t *testing.T) {
	dir := t.TempDir()
	st, err := filestore.Open(filepath.Join(dir, "loadgen-0"), "loadgen-0", filestore.Options{Limits: store.Limits{Bytes: 1 << 20, Messages: 4096}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recover(func(uint64, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	const seq0, n = 1000, 50
	if err := st.Begin(seq0, 0); err != nil {
		t.Fatal(err)
	}
	var pos uint64
	for seq := uint64(seq0); seq < seq0+n; seq++ {
		b, err := frame.AppendPublish(nil, &frame.Publish{Command: frame.CmdPublish, Topic: "crashed", Ack: frame.AckPersisted, Seq: seq}, []byte("earlier"))
		if err != nil {
			t.Fatal(err)
		}
		st.Append(seq, pos, b)
		pos += uint64(len(b))
	}
	st.Committed(seq0+n, pos)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	code, r, stderr := runJSON(t, nil, storeArgs(dir, "--count", "1000", "--verify")...)
	if code != exitOK || !r.OK {
		t.Fatalf("exit %d, failures %v\n%s", code, r.Failures, stderr)
	}
	if s := r.Store; s == nil || s.RecoveredRecords != n || s.Recovered != n || s.Lost != 0 || s.LostRanges != 0 {
		t.Errorf("store %+v", r.Store)
	}
	// checkServer passed: the server accepted this run's 1000 and the 50
	// replayed; the report shows this run's.
	if r.Server == nil || r.Server.Publishes != 1000 || r.Verify == nil || r.Verify.Received != 1000 || r.Verify.Lost != 0 {
		t.Errorf("server %+v verify %+v", r.Server, r.Verify)
	}
	// The store was left clean: a third open finds nothing to replay.
	st, err = filestore.Open(filepath.Join(dir, "loadgen-0"), "loadgen-0", filestore.Options{Limits: store.Limits{Bytes: 1 << 20, Messages: 4096}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	replay := 0
	rec, err := st.Recover(func(seq uint64, _ []byte) error {
		if seq > st.Stats().Persisted {
			replay++
		}
		return nil
	})
	if err != nil || rec.Persisted < seq0+n+1000-1 || rec.Last < rec.Persisted || replay != 0 {
		t.Errorf("after the run: %+v %v", rec, err)
	}
}

// TestFileStoreOpenErrors: a store in use, or of another client name,
// stops the run before anything is published, saying what to do.
func TestFileStoreOpenErrors(t *testing.T) {
	small := filestore.Options{Limits: store.Limits{Bytes: store.MinBytes, Messages: store.MinMessages}, SegmentBytes: filestore.MinSegmentBytes}
	locked := t.TempDir()
	st, err := filestore.Open(filepath.Join(locked, "loadgen-1"), "loadgen-1", small)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	foreign := t.TempDir()
	other, err := filestore.Open(filepath.Join(foreign, "loadgen-0"), "someone", small)
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{locked, []string{"loadgen-1", "store is in use", "another process has this store open"}},
		{foreign, []string{"belongs to another client name", `"someone"`, "give the --client-name the store was made with"}},
	} {
		code, r, stderr := runJSON(t, nil, storeArgs(tc.dir, "--connections", "2", "--count", "100")...)
		if code != exitFailed || r.OK || r.Messages != 0 || len(r.Failures) != 1 {
			t.Errorf("%s: exit %d, report %+v", tc.dir, code, r)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) || !strings.Contains(r.Failures[0], w) {
				t.Errorf("%s: error lacks %q:\n%s", tc.dir, w, stderr)
			}
		}
	}
}
