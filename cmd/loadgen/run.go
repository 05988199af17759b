package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	_ "net/http/pprof" // --pprof serves http.DefaultServeMux
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fastpub/fastpub/ampstest"
	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/frame"
	"github.com/fastpub/fastpub/loadreport"
	"github.com/fastpub/fastpub/subscriber"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1   // a publish error, a lost/duplicated/reordered message, a setup failure
	exitUsage       = 2   // a command-line mistake
	exitInterrupted = 130 // SIGINT/SIGTERM stopped an otherwise clean run
)

// run is the whole command: args without the program name. It returns the
// exit status; it never calls os.Exit, so tests call it directly. ctx ending
// (the signal in main) stops the run cleanly: producers stop, queued
// messages are flushed, the report is printed.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			return serve(ctx, args[1:], stdout, stderr)
		case "selfcheck":
			return selfcheck(ctx, args[1:], stdout, stderr)
		case "merge":
			return merge(args[1:], stdout, stderr)
		}
	}
	cfg, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "loadgen: %v\nRun 'loadgen -h' for usage.\n", err)
		return exitUsage
	}
	if err := checkOutputs(cfg); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	return runLoad(ctx, cfg, stdout, stderr)
}

var (
	errFlushTimeout   = errors.New("a flush was not acknowledged within --flush-timeout")
	errPublishStalled = errors.New("a producer's publish has been blocked for longer than --flush-timeout (is the server reading?)")
)

// loadRun is one load run: its setup, the state its goroutines share, and
// what must be closed after it.
type loadRun struct {
	cfg    *config
	stdout io.Writer
	stderr io.Writer
	rep    *loadreport.Report

	// Set up before the start.
	uri      string
	embedded *ampstest.Server // nil with --uri
	tmpl     *template
	run      uint32 // the run's id, in every stamp
	conns    []*connection
	prods    []*producer
	ver      *verifier // nil without --verify
	wire     wirePlan  // publish-to-wire sampling, the same for every producer
	overhead []int     // frame bytes around the payload, per topic
	prog     *progress
	closers  []func() // run in reverse order by close

	// Shared while publishing.
	iv          *intervals // latency histograms per interval, and --hlog
	hlogFile    *os.File   // opened by setup
	start       time.Time
	ctx         context.Context // ends at the interrupt, the hard deadline, or the first error
	cancel      context.CancelCauseFunc
	stopOnce    sync.Once
	stopCh      chan struct{}
	stopped     atomic.Bool
	interrupted atomic.Bool
	errs        errorLog
	res         resilience  // what the clients' handlers saw (resilience.go)
	stores      *storeWatch // --store: the file stores (filestore.go); nil otherwise
	closeOnce   sync.Once
}

// runLoad runs a load test and reports it: set up (target, connections,
// verifier), publish, wait for the tail, report.
func runLoad(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	if !isTerminal(stderr) {
		// Notes and progress lines come from several goroutines.
		stderr = &lockedWriter{w: stderr}
	}
	r := &loadRun{cfg: cfg, stdout: stdout, stderr: stderr, stopCh: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancelCause(context.Background())
	defer r.close()
	r.rep = &loadreport.Report{Tool: "loadgen", ReportVersion: loadreport.Version, Machine: fingerprint(), Failures: []string{}}
	fillWorkload(r.rep, cfg)

	if err := r.setup(ctx); err != nil {
		return r.setupFailed(ctx, err)
	}
	before := r.publish(ctx)
	r.collect(before)
	return r.output()
}

// info prints a note on stderr unless --quiet.
func (r *loadRun) info(format string, args ...any) {
	if !r.cfg.quiet {
		fmt.Fprintf(r.stderr, "loadgen: "+format+"\n", args...)
	}
}

func (r *loadRun) onClose(f func()) { r.closers = append(r.closers, f) }

func (r *loadRun) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.cancel(nil)
}

// stop makes every producer finish its current message and return.
func (r *loadRun) stop(cause error) {
	r.stopOnce.Do(func() {
		r.stopped.Store(true)
		close(r.stopCh)
		r.cancel(cause)
	})
}

// setupFailed reports a run that never started: the error on stderr, and
// with --json a report that says why.
func (r *loadRun) setupFailed(ctx context.Context, err error) int {
	r.rep.Failures = append(r.rep.Failures, err.Error())
	r.rep.OK = false
	r.rep.Interrupted = ctx.Err() != nil
	if r.cfg.json {
		r.rep.WriteJSON(r.stdout)
	}
	fmt.Fprintf(r.stderr, "loadgen: %v\n", err)
	if r.rep.Interrupted {
		return exitInterrupted
	}
	return exitFailed
}

// setup does everything before the first publish.
func (r *loadRun) setup(ctx context.Context) error {
	cfg := r.cfg
	if cfg.pprof != "" {
		l, err := net.Listen("tcp", cfg.pprof)
		if err != nil {
			return fmt.Errorf("--pprof: %w", err)
		}
		srv := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(l)
		r.onClose(func() { srv.Close() })
		r.info("pprof at http://%s/debug/pprof/", l.Addr())
	}
	if err := r.startTarget(); err != nil {
		return err
	}
	if cfg.storeDir != "" {
		if err := r.openStores(); err != nil {
			return err
		}
	}
	r.tmpl = cfg.tmpl
	if r.tmpl == nil {
		r.tmpl = plainTemplate(cfg.size)
		if cfg.verify {
			r.tmpl = sizedTemplate(cfg.size)
		}
	}
	r.run = rand.Uint32()
	r.rep.Run = fmt.Sprintf("%08x", r.run)
	if err := r.connect(ctx); err != nil {
		return err
	}
	if cfg.verify {
		if err := r.startVerifier(ctx); err != nil {
			return err
		}
	}
	r.makeProducers()
	if cfg.hlogFile != "" {
		f, err := os.Create(cfg.hlogFile)
		if err != nil {
			return fmt.Errorf("--hlog: %w", err)
		}
		r.hlogFile = f
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		r.onClose(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}
	return nil
}

// startTarget starts the embedded server when there is no --uri.
func (r *loadRun) startTarget() error {
	r.uri = r.cfg.uri
	if r.uri == "" {
		s, err := ampstest.StartTCP(ampstest.Config{})
		if err != nil {
			return fmt.Errorf("starting the embedded server: %w", err)
		}
		r.onClose(func() { s.Close() })
		r.embedded = s
		r.uri = s.URI(r.cfg.messageType)
		r.info("no --uri: started the embedded ampstest server at %s (in this process: it shares the CPUs with the publisher)", r.uri)
	}
	r.rep.Target.URI = redactedURI(r.uri)
	for _, u := range r.cfg.failover {
		r.rep.Target.Failover = append(r.rep.Target.Failover, redactedURI(u))
	}
	r.rep.Target.Embedded = r.embedded != nil
	return nil
}

// connect connects and logs on every connection, as <prefix>-<i>.
func (r *loadRun) connect(ctx context.Context) error {
	cfg := r.cfg
	r.onClose(r.closeClients)
	for i := 0; i < cfg.connections; i++ {
		opts, err := r.clientOptions(i)
		if err != nil {
			return err
		}
		client, err := fastpub.NewClient(cfg.connName(i), opts...)
		if err != nil {
			return err
		}
		if r.stores != nil {
			r.stores.stores[i].handed = true // the client's Close closes it
		}
		cctx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
		err = client.Connect(cctx, r.uri)
		if err == nil {
			err = client.Logon(cctx)
		}
		cancel()
		if err != nil {
			client.Close()
			if r.stores != nil && errors.Is(err, fastpub.ErrPublishGap) {
				return fmt.Errorf("connection %d: %w (its store %s says the server persisted more than the server now knows: the server lost messages, or it is another server; a fresh --store directory starts over)", i, err, r.stores.stores[i].dir)
			}
			return fmt.Errorf("connection %d: %w", i, err)
		}
		if r.stores != nil {
			r.stores.loggedOn(i)
		}
		r.conns = append(r.conns, &connection{idx: i, client: client})
		if i == 0 {
			r.rep.Target.ServerVersion = client.ServerVersion()
		}
	}
	return nil
}

// closeClients closes every connection's client, all at once, and waits for
// each only until its shutdown deadline (see connection.finish): the final
// flush and Close share one --flush-timeout, so a server that stopped
// (SIGSTOP) cannot keep loadgen alive past it. A connection that failed
// (its publish stalled, its flush timed out, its socket broke) has nothing
// left to drain: its Close is started, not waited for; fastpub bounds it
// with the close timeout, and the process exits before that anyway.
func (r *loadRun) closeClients() {
	r.closeOnce.Do(r.closeClientsOnce)
}

func (r *loadRun) closeClientsOnce() {
	type closing struct {
		c    *connection
		done chan struct{}
	}
	var all []closing
	for _, c := range r.conns {
		cl := closing{c: c, done: make(chan struct{})}
		go func() {
			defer close(cl.done)
			c.client.Close()
		}()
		all = append(all, cl)
	}
	for _, cl := range all {
		if cl.c.failed.Load() {
			continue
		}
		deadline := cl.c.deadline
		if deadline.IsZero() { // never published: nothing queued
			deadline = time.Now().Add(r.cfg.flushTimeout)
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-cl.done:
		case <-t.C:
			r.info("connection %d: Close did not finish within --flush-timeout of the end of publishing; not waiting for it", cl.c.idx)
		}
		t.Stop()
	}
}

// startVerifier subscribes to every topic before anything is published.
func (r *loadRun) startVerifier(ctx context.Context) error {
	cfg := r.cfg
	sctx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	uri := r.uri
	if cfg.verifyURI != "" {
		uri = cfg.verifyURI
	}
	sub, err := subscriber.Dial(sctx, uri, cfg.clientName+"-verify")
	if err != nil {
		return fmt.Errorf("verify: subscriber: %w", err)
	}
	r.onClose(func() { sub.Close() })
	for _, t := range cfg.topics {
		if strings.ContainsAny(t, `.*+?^$[](){}|\`) {
			r.info("warning: topic %q has regular-expression characters: AMPS subscribes to it as a pattern, which may match other topics (their messages are ignored, but a pattern matching two of this run's topics delivers duplicates)", t)
			break
		}
	}
	v := newVerifier(sub, r.run, cfg.topics, cfg.connections, cfg.totalProducers())
	if err := v.subscribe(sctx, cfg.topics); err != nil {
		return fmt.Errorf("verify: subscribing: %w", err)
	}
	vctx, vcancel := context.WithCancel(context.Background())
	go v.loop(vctx)
	r.onClose(func() {
		vcancel()
		<-v.done
	})
	v.cancel = vcancel
	r.ver = v
	r.info("verifying: subscribed to %d topic(s) as %s-verify at %s", len(cfg.topics), cfg.clientName, redactedURI(uri))
	return nil
}

// makeProducers creates connections × producers producers. Producer k of
// connection c has the run-wide id c×producers+k; with --count each gets an
// equal share, the first count%total one more.
func (r *loadRun) makeProducers() {
	cfg := r.cfg
	// Frame bytes around the payload, per connection and topic: with a
	// store the header carries the connection's sequence numbers.
	overheads := make([][]int, len(r.conns))
	minOverhead := -1
	for ci, c := range r.conns {
		seq := r.firstSeq(c)
		overheads[ci] = make([]int, len(cfg.topics))
		for i, t := range cfg.topics {
			h := frame.Publish{Command: frame.CmdPublish, Topic: t}
			if seq > 0 { // with a store: "a":"persisted" and "s":<seq>
				h.Ack, h.Seq = frame.AckPersisted, seq
			}
			o, _ := frame.PublishLen(&h, 0)
			overheads[ci][i] = o
			if minOverhead < 0 || o < minOverhead {
				minOverhead = o
			}
		}
	}
	r.wire = planWire(cfg.sendBuffer(), minOverhead+r.tmpl.minLen(cfg.symbols), cfg.producers, cfg.rate > 0)
	r.overhead = overheads[0]
	total := cfg.totalProducers()
	for _, c := range r.conns {
		c.wire.h = newHistogram()
		overhead := overheads[c.idx]
		for k := 0; k < cfg.producers; k++ {
			id := c.idx*cfg.producers + k
			p := &producer{
				id: id, total: total, conn: c, cfg: cfg, tmpl: r.tmpl,
				sched: schedule{rate: cfg.rate}, topics: cfg.topics, overhead: overhead,
				run: r.run, hist: newHistogram(), samples: newWireSampler(r.wire),
				api: cfg.api, client: c.client, queued: c.client.Queued, wsrc: (*clientWire)(c), wireH: &c.wire,
			}
			if p.sched.paced() {
				p.pacerH = newHistogram()
			}
			if cfg.flushEvery > 0 || cfg.flushInterval > 0 {
				p.flushH = newHistogram()
			}
			if cfg.count > 0 {
				p.limited = true
				p.limit = cfg.count / uint64(total)
				if uint64(id) < cfg.count%uint64(total) {
					p.limit++
				}
			}
			c.prods = append(c.prods, p)
			r.prods = append(r.prods, p)
		}
	}
}

// firstSeq estimates the sequence numbers c's store puts on the wire, for
// the frames' sizes: what follows the server's last sequence for the name,
// or for a name without history epoch milliseconds × 10⁶ (fastpub's first
// sequence: 19 digits for centuries). 0 without a store. An estimate:
// the digits grow by one at each power of ten the sequences cross.
func (r *loadRun) firstSeq(c *connection) uint64 {
	if r.cfg.ack != ackPersisted {
		return 0
	}
	if last := c.client.LastSequence(); last > 0 {
		return last + 1
	}
	return uint64(time.Now().UnixMilli()) * 1_000_000
}

// publish runs the producers until they are done or stopped, and each
// connection's final flush. It returns the memory statistics from just
// before the start.
func (r *loadRun) publish(ctx context.Context) runtime.MemStats {
	cfg := r.cfg
	r.rep.Runtime.HarnessNs = calibrateHarness(cfg, r.tmpl, r.run, r.wire, r.overhead)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	if cfg.rate > 0 && cfg.spinAuto {
		late := measureTimerLateness(16, 200*time.Microsecond)
		cfg.spin = autoSpin(late)
		r.rep.Workload.Spin = cfg.spin.Seconds()
		r.rep.Workload.TimerLateness = late.Seconds()
		r.info("--spin auto: a sleeping goroutine wakes %v late here (p90 of 16), so the pacer yields for the last %v of each wait", late, cfg.spin)
	}
	u0, s0 := cpuTimes()
	r.start = time.Now()
	r.res.start.Store(r.start.UnixNano())
	r.rep.StartUnixMs = r.start.UnixMilli()
	r.iv = newIntervals(r.start, cfg.interval, r.hlogFile, r.rep.Run)
	r.iv.startLoop()
	if r.ver != nil {
		r.ver.iv.Store(r.iv)
	}
	stopSignal := context.AfterFunc(ctx, func() {
		r.interrupted.Store(true)
		r.info("interrupted: stopping, flushing and reporting (interrupt again to quit at once)")
		r.stop(context.Canceled)
	})
	defer stopSignal()
	// A producer blocked on a server that stopped reading must not hang
	// the run: the progress loop fails it after --flush-timeout.
	r.prog = newProgress(cfg, r.stderr, r.start, r.prods, r.conns, r.ver, &r.errs, func() {
		r.errs.add(errPublishStalled)
		r.stop(errPublishStalled)
	})
	if r.stores != nil {
		r.prog.storeSample = r.stores.sample
	}
	r.prog.startLoop()

	wall0 := r.start.UnixNano()
	var all, finished sync.WaitGroup
	for _, c := range r.conns {
		var mine sync.WaitGroup
		for _, p := range c.prods {
			p.end, p.wall0 = cfg.duration, wall0
			p.pacer = newPacer(r.start, cfg.spin)
			all.Add(1)
			mine.Add(1)
			go func() {
				defer all.Done()
				defer mine.Done()
				p.loop(r)
			}()
		}
		finished.Add(1)
		go func() {
			defer finished.Done()
			c.finish(r, &mine, r.ver != nil, r.run)
		}()
	}
	all.Wait()
	finished.Wait()
	u1, s1 := cpuTimes()
	r.rep.Runtime.CPUUser, r.rep.Runtime.CPUSys = (u1 - u0).Seconds(), (s1 - s0).Seconds()
	return before
}

// collect waits for the verifier's tail and fills the report.
func (r *loadRun) collect(before runtime.MemStats) {
	cfg, rep := r.cfg, r.rep
	if v := r.ver; v != nil {
		var healthy []int
		for _, c := range r.conns {
			if !c.failed.Load() {
				healthy = append(healthy, c.idx)
			}
		}
		t0 := time.Now()
		tail := v.waitTail(healthy, cfg.verifyTimeout)
		v.cancel()
		<-v.done
		published := make([]uint64, len(r.prods))
		for i, p := range r.prods {
			published[i] = p.sent
		}
		rep.Verify = v.result(published, len(cfg.topics))
		rep.Verify.Tail = tail
		rep.Verify.TailWait = time.Since(t0).Seconds()
		v.flushIntervals()
	}
	r.prog.stopLoop() // the progress line ran through the tail; the report starts on a fresh line
	rep.RingFillMax, rep.RingFillMean = r.prog.fillStats()

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rep.Runtime.Allocs = after.Mallocs - before.Mallocs
	rep.Runtime.AllocBytes = after.TotalAlloc - before.TotalAlloc
	rep.Runtime.GCCycles = after.NumGC - before.NumGC
	rep.Runtime.GCPause = after.PauseTotalNs - before.PauseTotalNs
	rep.Runtime.PeakRSS = peakRSS()

	var send, done time.Duration
	for _, c := range r.conns {
		done = max(done, c.done)
		st := c.client.Stats()
		rep.Transport.BytesWritten += st.BytesWritten
		rep.Transport.Writes += st.Writes
	}
	if rep.Transport.Writes > 0 {
		rep.Transport.AvgWrite = float64(rep.Transport.BytesWritten) / float64(rep.Transport.Writes)
	}
	var wc wireCounts
	var sendTime time.Duration
	for _, p := range r.prods {
		wc.add(p.samples.counts)
		rep.Messages += p.sent
		rep.PayloadBytes += p.payload
		rep.WireBytes += p.wire
		rep.BufferFull += p.bufferFull
		send = max(send, p.lastDone)
		sendTime += p.lastDone
	}
	if err := r.iv.finish(max(done, send)); err != nil {
		rep.Failures = append(rep.Failures, "--hlog: "+err.Error())
	} else if cfg.hlogFile != "" {
		r.info("wrote %s (HdrHistogram interval log, one tag per latency kind)", cfg.hlogFile)
	}
	wireH, pubH, flushH, pacerH := r.iv.total("wire"), r.iv.total("enqueue"), r.iv.total("flush"), r.iv.total("pacer")
	rep.Duration = max(done, send).Seconds()
	rep.SendDuration = send.Seconds()
	// The publish cost: each producer's time per message, less loadgen's
	// own (flat out, where the producers never wait for a due time).
	if cfg.rate == 0 && rep.Messages > 0 {
		perMsg := float64(sendTime) / float64(rep.Messages)
		if rt := &rep.Runtime; perMsg > rt.HarnessNs {
			rt.PublishNs = perMsg - rt.HarnessNs
			rt.OverheadRatio = rt.HarnessNs / rt.PublishNs
			if rt.OverheadRatio > maxOverhead {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("loadgen's own cost is %.0f%% of the publish cost it measured (goal: at most %.0f%%): the figures understate the engine", 100*rt.OverheadRatio, 100*maxOverhead))
			}
		}
	}
	rep.Latency.Wire = loadreport.NewStats(loadreport.WireName, wireLatencyWhat(cfg, r.wire), wireH)
	rep.Latency.WireSampling = wireSamplingInfo(r.wire, wc, cfg.producers)
	rep.Latency.Publish = loadreport.NewStats(loadreport.EnqueueName, publishLatencyWhat(cfg, r.wire.every), pubH)
	rep.Latency.Flush = loadreport.NewStats("flush latency", flushWhat(cfg), flushH)
	rep.Latency.Pacer = loadreport.NewStats(loadreport.PacerName, pacerWhat(cfg), pacerH)
	if r.ver != nil {
		rep.Latency.Delivery = loadreport.NewStats("publish-to-delivery latency",
			"due time stamped in the payload → the verifying subscriber read the delivery (same process, same clock)", r.iv.total("delivery"))
	}
	rep.Timeline = r.prog.timeline(max(done, send))
	r.collectResilience() // closes the clients: after the runtime figures, before the errors
	rep.Errors = r.errs.info()
	rep.Interrupted = r.interrupted.Load()
	if r.embedded != nil {
		r.checkServer()
	}
	r.pacerWarning()
	rep.Finish()
	r.writeHists()
}

// checkServer compares the embedded server's count of accepted publishes
// with loadgen's: after the final flushes they must match.
func (r *loadRun) checkServer() {
	rep := r.rep
	st := r.embedded.Stats()
	var markers uint64
	if r.ver != nil {
		for _, c := range r.conns {
			if !c.failed.Load() {
				markers += uint64(len(r.cfg.topics))
			}
		}
	}
	markers += r.stores.replayed() // an earlier run's, replayed from the file stores
	rep.Server = &loadreport.Server{Publishes: st.Publishes - min(markers, st.Publishes), Delivered: st.Delivered, Connections: st.ConnectionsTotal}
	if rep.Errors.Count == 0 && rep.Server.Publishes != rep.Messages {
		rep.Failures = append(rep.Failures, fmt.Sprintf("the embedded server accepted %d publishes, loadgen published %d", rep.Server.Publishes, rep.Messages))
	}
}

// writeHists writes --hist (publish-to-wire, the headline) and its
// -enqueue, -pacer, -flush and -delivery companions.
func (r *loadRun) writeHists() {
	cfg := r.cfg
	if cfg.histFile == "" {
		return
	}
	for path, h := range r.rep.HgrmFiles(cfg.histFile) {
		if err := loadreport.WriteHgrm(path, cfg.histUnit, h); err != nil {
			r.rep.Failures = append(r.rep.Failures, "--hist: "+err.Error())
			r.rep.OK = false
			continue
		}
		r.info("wrote %s (values in %s)", path, cfg.histUnit)
	}
}

// output prints the report and returns the exit status.
func (r *loadRun) output() int {
	for _, o := range []struct {
		flag, path string
		write      func(io.Writer) error
	}{{"json-file", r.cfg.jsonFile, r.rep.WriteJSON}, {"html", r.cfg.htmlFile, r.rep.WriteHTML}} {
		if o.path == "" {
			continue
		}
		if err := writeFile(o.path, o.write); err != nil {
			r.rep.Failures = append(r.rep.Failures, "--"+o.flag+": "+err.Error())
			r.rep.OK = false
			continue
		}
		r.info("wrote %s", o.path)
	}
	if r.cfg.json {
		r.rep.WriteJSON(r.stdout)
	} else {
		r.rep.WriteText(r.stdout)
	}
	switch {
	case !r.rep.OK:
		return exitFailed
	case r.rep.Interrupted:
		return exitInterrupted
	}
	return exitOK
}

// redactedURI returns uri with its password redacted (as it is when it
// does not parse: validate refused it then).
func redactedURI(uri string) string {
	if u, err := connstr.Parse(uri); err == nil {
		return u.String()
	}
	return uri
}

// commandLine returns the command as typed, shell-quoted where needed, with
// the password in every --uri and --verify-uri redacted.
func commandLine(cfg *config) string {
	uris := cfg.uris()
	if cfg.verifyURI != "" {
		uris = append(uris, cfg.verifyURI)
	}
	parts := []string{"loadgen"}
	for _, a := range cfg.args {
		for _, u := range uris {
			if a == u {
				a = redactedURI(u)
				break
			}
			if strings.HasSuffix(a, "="+u) {
				a = strings.TrimSuffix(a, u) + redactedURI(u)
				break
			}
		}
		if a == "" || strings.ContainsAny(a, " \t\n'\"$`\\*?[]{}();&|<>#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// errorLog counts publish, flush and asynchronous errors and keeps the first.
type errorLog struct {
	count atomic.Uint64
	mu    sync.Mutex
	first string
}

func (e *errorLog) add(err error) {
	if e.count.Add(1) == 1 {
		e.mu.Lock()
		e.first = err.Error()
		e.mu.Unlock()
	}
}

func (e *errorLog) info() loadreport.Errors {
	e.mu.Lock()
	defer e.mu.Unlock()
	return loadreport.Errors{Count: e.count.Load(), First: e.first}
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
