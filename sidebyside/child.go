package sidebyside

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// SinkOptions configure the sink child.
type SinkOptions struct {
	TCP         bool          // also listen on 127.0.0.1:0
	AckInterval time.Duration // conflated persisted acks at most this often (DefaultAckInterval)
	AckFrames   int           // ... or after this many stored publishes (DefaultAckFrames)
	Stderr      io.Writer     // the child's stderr (default os.Stderr)
}

// Sink is the parent's handle on the sink child process.
type Sink struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	replies  chan controlMsg
	readErr  chan error
	dir      string
	unixPath string
	tcpAddr  string

	mu     sync.Mutex
	closed bool
	final  *SinkReport
}

// controlTimeout bounds every exchange on the control channel.
const controlTimeout = 15 * time.Second

// StartSink starts the sink: this very binary, re-executed with SinkEnv set
// (so its main or TestMain must call RunSinkIfChild), listening on a unix
// socket in a new temporary directory.
func StartSink(o SinkOptions) (*Sink, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("sidebyside: the running binary: %w", err)
	}
	dir, err := os.MkdirTemp("", "sbs-")
	if err != nil {
		return nil, err
	}
	s := &Sink{dir: dir, unixPath: filepath.Join(dir, "sink.sock"),
		replies: make(chan controlMsg, 4), readErr: make(chan error, 1)}
	if o.AckInterval <= 0 {
		o.AckInterval = DefaultAckInterval
	}
	if o.AckFrames <= 0 {
		o.AckFrames = DefaultAckFrames
	}
	args := []string{"-unix", s.unixPath, "-ack-interval", o.AckInterval.String(), "-ack-frames", strconv.Itoa(o.AckFrames)}
	if o.TCP {
		args = append(args, "-tcp", "127.0.0.1:0")
	}
	s.cmd = exec.Command(exe)
	s.cmd.Env = append(os.Environ(), SinkEnv+"="+joinArgs(args))
	s.cmd.Stderr = o.Stderr
	if s.cmd.Stderr == nil {
		s.cmd.Stderr = os.Stderr
	}
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sidebyside: start the sink: %w", err)
	}
	go s.read(stdout)
	ready, err := s.reply("ready")
	if err != nil {
		s.Close()
		return nil, err
	}
	s.tcpAddr = ready.TCP
	return s, nil
}

func (s *Sink) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var m controlMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			s.readErr <- fmt.Errorf("sidebyside: the sink said %q: %w", sc.Text(), err)
			return
		}
		s.replies <- m
	}
	err := sc.Err()
	if err == nil {
		err = io.EOF
	}
	s.readErr <- fmt.Errorf("sidebyside: the sink's control channel ended: %w", err)
}

func (s *Sink) reply(op string) (controlMsg, error) {
	t := time.NewTimer(controlTimeout)
	defer t.Stop()
	select {
	case m := <-s.replies:
		if m.Op != op {
			return m, fmt.Errorf("sidebyside: the sink answered %q (%s), want %q", m.Op, m.Err, op)
		}
		return m, nil
	case err := <-s.readErr:
		s.readErr <- err
		return controlMsg{}, err
	case <-t.C:
		return controlMsg{}, fmt.Errorf("sidebyside: no %q from the sink in %v", op, controlTimeout)
	}
}

func (s *Sink) send(m controlMsg) error {
	b, err := json.Marshal(&m)
	if err != nil {
		return err
	}
	_, err = s.stdin.Write(append(b, '\n'))
	return err
}

// Begin starts a measured run in the sink: its counters, histogram and CPU
// baseline are reset; with latency it records arrival minus stamp.
func (s *Sink) Begin(latency bool) error {
	if err := s.send(controlMsg{Op: "begin", Latency: latency}); err != nil {
		return err
	}
	_, err := s.reply("begin")
	return err
}

// End ends the run and returns the sink's report on it.
func (s *Sink) End() (SinkReport, error) {
	if err := s.send(controlMsg{Op: "end"}); err != nil {
		return SinkReport{}, err
	}
	m, err := s.reply("end")
	if err != nil {
		return SinkReport{}, err
	}
	if m.Report == nil {
		return SinkReport{}, errors.New("sidebyside: the sink's end carried no report")
	}
	return *m.Report, nil
}

// Pid is the sink's process id.
func (s *Sink) Pid() int { return s.cmd.Process.Pid }

// UnixPath is the sink's unix socket.
func (s *Sink) UnixPath() string { return s.unixPath }

// TCPAddr is the sink's TCP address ("" unless SinkOptions.TCP).
func (s *Sink) TCPAddr() string { return s.tcpAddr }

// URI is a fastpub connection string for the sink over network ("unix" or
// "tcp").
func (s *Sink) URI(network string) string {
	if network == "tcp" {
		return "tcp://" + s.tcpAddr + "/amps/json"
	}
	return "unix://localhost:0/amps/json?path=" + s.unixPath
}

// Dial opens a raw connection to the sink over network ("unix" or "tcp").
func (s *Sink) Dial(network string) (net.Conn, error) {
	if network == "tcp" {
		if s.tcpAddr == "" {
			return nil, errors.New("sidebyside: the sink does not listen on TCP")
		}
		return net.DialTimeout("tcp", s.tcpAddr, 5*time.Second)
	}
	return net.DialTimeout("unix", s.unixPath, 5*time.Second)
}

// Close ends the sink: it closes the control channel (the sink then writes
// a final report and exits), waits for it a few seconds, kills it if it is
// still there, and removes the socket's directory. Safe to call twice.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stdin.Close()
	// Drain what the sink still says (its final report) so that it never
	// blocks on a full pipe.
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for done := false; !done; {
		select {
		case m := <-s.replies:
			if m.Op == "final" && m.Report != nil {
				r := *m.Report
				s.final = &r
			}
		case <-s.readErr:
			done = true
		case <-deadline.C:
			done = true
		}
	}
	waited := make(chan error, 1)
	go func() { waited <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		err = <-waited
		if err == nil {
			err = errors.New("sidebyside: the sink did not exit; killed")
		}
	}
	os.RemoveAll(s.dir)
	return err
}

// Final is the sink's final report (everything since its last Begin),
// after Close; nil if it sent none.
func (s *Sink) Final() *SinkReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.final
}
