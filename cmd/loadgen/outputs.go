package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fastpub/fastpub/loadreport"
)

// outputFile is one file a run writes after publishing, and the flag that
// named it.
type outputFile struct {
	flag string // without dashes
	path string
}

// outputFiles lists every file the run will write: --hist and its
// companions, --hlog, --json-file, --html, --cpuprofile.
func (c *config) outputFiles() []outputFile {
	var out []outputFile
	if c.histFile != "" {
		out = append(out,
			outputFile{"hist", c.histFile},
			outputFile{"hist", loadreport.HgrmPath(c.histFile, "enqueue")})
		if c.flushEvery > 0 || c.flushInterval > 0 {
			out = append(out, outputFile{"hist", loadreport.HgrmPath(c.histFile, "flush")})
		}
		if c.verify {
			out = append(out, outputFile{"hist", loadreport.HgrmPath(c.histFile, "delivery")})
		}
	}
	for _, o := range []outputFile{{"hlog", c.hlogFile}, {"json-file", c.jsonFile}, {"html", c.htmlFile}, {"cpuprofile", c.cpuProfile}} {
		if o.path != "" {
			out = append(out, o)
		}
	}
	return out
}

// checkOutputs makes sure every output file can be written before anything
// is published, so that a typo in a path fails in a second rather than
// after the whole run: the file's directory must exist and accept a new
// file, and the path must not name a directory. It creates and removes a
// probe file in each directory; it does not touch the outputs themselves.
// The error matches errUsage and names the flag.
func checkOutputs(c *config) error {
	checked := map[string]bool{}
	for _, o := range c.outputFiles() {
		if st, err := os.Stat(o.path); err == nil && st.IsDir() {
			return usageErrf(o.flag, "%s is a directory, not a file", o.path)
		}
		dir := filepath.Dir(o.path)
		if checked[dir] {
			continue
		}
		st, err := os.Stat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return usageErrf(o.flag, "cannot write %s: directory %s does not exist", o.path, dir)
		case err != nil:
			return usageErrf(o.flag, "cannot write %s: %v", o.path, err)
		case !st.IsDir():
			return usageErrf(o.flag, "cannot write %s: %s is not a directory", o.path, dir)
		}
		f, err := os.CreateTemp(dir, ".loadgen-probe-*")
		if err != nil {
			return usageErrf(o.flag, "cannot write %s: %v", o.path, unwrapPath(err))
		}
		name := f.Name()
		f.Close()
		os.Remove(name)
		checked[dir] = true
	}
	return nil
}

// unwrapPath drops the probe file's name from a *PathError.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("directory %s: %w", filepath.Dir(pe.Path), pe.Err)
	}
	return err
}
