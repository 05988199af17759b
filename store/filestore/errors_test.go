package filestore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fastpub/fastpub/store"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

const holdEnv = "FILESTORE_TEST_HOLD"

// TestMain doubles as the child process that holds a store open (the
// lock test re-executes the test binary with holdEnv set).
func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		s, err := Open(dir, "pub-1", small())
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("held")
		io.Copy(io.Discard, os.Stdin) // until the parent closes our stdin
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLockedByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("child: %q, %v", line, err)
	}
	if _, err := Open(dir, "pub-1", small()); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open while another process holds it: %v, want ErrLocked naming the path", err)
	}
	stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not exit")
	}
	s, err := Open(dir, "pub-1", small())
	if err != nil {
		t.Fatalf("Open after the child exited: %v", err)
	}
	s.Close()
}

func TestLockedInProcess(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, small())
	if _, err := Open(dir, "pub-1", small()); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	s.Close()
	s = mustOpen(t, dir, small())
	s.Close()
}

func TestForeignName(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, small()).Close()
	_, err := Open(dir, "other", small())
	if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), `"pub-1"`) || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("Open under another name: %v", err)
	}
}

func TestOtherVersion(t *testing.T) {
	dir := t.TempDir()
	mustOpen(t, dir, small()).Close()
	path := filepath.Join(dir, metaName)
	b, _ := os.ReadFile(path)
	le.PutUint32(b[4:], Version+1)
	os.WriteFile(path, b, 0o644)
	if _, err := Open(dir, "pub-1", small()); !errors.Is(err, ErrVersion) {
		t.Fatalf("Open: %v, want ErrVersion", err)
	}
}

func TestGarbageMeta(t *testing.T) {
	for name, mutate := range map[string]func([]byte) []byte{
		"random":   func([]byte) []byte { return []byte("this is not a store at all, not at all") },
		"empty":    func([]byte) []byte { return nil },
		"checksum": func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"name":     func(b []byte) []byte { b[metaFixed] ^= 1; return b },
		"short":    func(b []byte) []byte { return b[:len(b)-2] },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			mustOpen(t, dir, small()).Close()
			path := filepath.Join(dir, metaName)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, mutate(b), 0o644)
			if _, err := Open(dir, "pub-1", small()); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open: %v, want ErrFormat naming %s", err, path)
			}
		})
	}
	// Segments without a meta file.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, segFile(0)), []byte("x"), 0o644)
	if _, err := Open(dir, "pub-1", small()); !errors.Is(err, ErrFormat) {
		t.Fatalf("Open: %v, want ErrFormat", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []Options{
		{Limits: store.Limits{Bytes: 1000}},
		{SegmentBytes: 3 << 20},
		{SegmentBytes: 32 << 10},
		{Durability: 7},
		{SyncInterval: -1},
		{SyncInterval: time.Minute},
		{SyncBytes: 100},
	} {
		if _, err := Open(t.TempDir(), "pub-1", o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
	if _, err := Open(t.TempDir(), "", Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("empty name: %v", err)
	}
}

func TestSegmentSizeOfExistingStore(t *testing.T) {
	dir := t.TempDir()
	writeStore(t, dir, 1, 100, nil)
	o := small()
	o.SegmentBytes = 1 << 20
	s := mustOpen(t, dir, o)
	defer s.Close()
	_, g := recoverAll(t, s)
	checkFrames(t, g, 1, 100, nil)
	if s.Stats().SegmentBytes != MinSegmentBytes {
		t.Fatalf("SegmentBytes %d, want the store's %d", s.Stats().SegmentBytes, MinSegmentBytes)
	}
}
