package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fastpub/fastpub/connstr"
	"github.com/fastpub/fastpub/fastpub"
	"github.com/fastpub/fastpub/store"
	"github.com/fastpub/fastpub/store/filestore"
)

// Defaults. The usage text and the package doc quote them.
const (
	defaultDuration      = 5 * time.Second
	defaultSize          = 128
	defaultTopic         = "loadgen"
	defaultSymbols       = "AAPL,MSFT,GOOG,AMZN,NVDA,META,TSLA,IBM"
	defaultMessageType   = "json"
	defaultProcessedN    = 1000 // --ack processed without a flush flag flushes every this many
	defaultFlushTimeout  = 30 * time.Second
	defaultVerifyTimeout = 10 * time.Second
	defaultConnTimeout   = 10 * time.Second
	defaultInterval      = time.Second

	maxProducersTotal = 1024      // connections × producers; each keeps a ~270 KB histogram and ≤ 128 KiB of wire samples
	maxTopics         = 1_000_000 // topics after expansion
	maxVerifyCells    = 1 << 22   // producers × topics the verifier tracks (8 bytes each)
	maxPayload        = fastpub.DefaultMaxMessageSize - 1024
)

// defaultStoreClientName is the client name prefix with --store and no
// --client-name: the same in every run, so that a restarted loadgen finds
// its stores (--store/loadgen-0, …) and resumes them.
const defaultStoreClientName = "loadgen"

// errUsage marks a command-line mistake: run prints it with a usage hint and
// exits with status 2.
var errUsage = errors.New("usage")

// usageError is a command-line mistake about one flag.
type usageError struct {
	Flag string // without dashes; "" for positional arguments
	Msg  string
}

func (e *usageError) Error() string {
	if e.Flag == "" {
		return e.Msg
	}
	return "--" + e.Flag + ": " + e.Msg
}

func (e *usageError) Unwrap() error { return errUsage }

func usageErrf(name, format string, args ...any) error {
	return &usageError{Flag: name, Msg: fmt.Sprintf(format, args...)}
}

// ackMode is --ack.
type ackMode int

const (
	ackNone ackMode = iota
	ackProcessed
	ackPersisted
)

func (a ackMode) String() string {
	switch a {
	case ackProcessed:
		return "processed"
	case ackPersisted:
		return "persisted"
	}
	return "none"
}

// apiMode is --api: which fastpub call publishes.
type apiMode int

const (
	apiPublish apiMode = iota // PublishContext: blocks while the send buffer is full
	apiTry                    // TryPublish: never blocks; ErrBufferFull is retried
	apiMessage                // PublishMessage with a *fastpub.Message
	apiNone                   // no publish: the harness alone (calibrateHarness), never from the command line
)

func (a apiMode) String() string {
	switch a {
	case apiTry:
		return "try"
	case apiMessage:
		return "message"
	}
	return "publish"
}

// config is the parsed and validated command line. The zero value is not
// valid; parseFlags returns one with every default applied.
type config struct {
	args []string // the command line, for the report

	// Target.
	uri            string   // the first --uri: Connect's; "" = start the embedded server
	failover       []string // the further --uri flags: ReconnectPolicy.Servers
	reconnect      bool     // WithReconnect: --reconnect, or more than one --uri
	maxOutage      time.Duration
	verifyURI      string // --verify-uri: the verifier's server; "" = the first --uri
	messageType    string // message type of the embedded server's URI
	clientName     string // prefix; connection i logs on as <prefix>-<i>
	connectTimeout time.Duration

	// Workload. count and duration both bound the run (whichever ends first);
	// 0 means no bound from that side, and at least one is non-zero.
	count       uint64
	duration    time.Duration
	rate        float64       // messages per second over all producers; 0 = as fast as possible
	spin        time.Duration // the last part of a wait for a due time spent yielding, not sleeping
	spinAuto    bool          // --spin auto (the default): spin set from the timer's measured lateness
	producers   int           // goroutines per connection
	connections int
	topicSpec   string
	topics      []string

	// Payload: size, or a template file.
	size         int
	templateFile string
	tmpl         *template
	symbols      []string

	// Acks and flushes.
	ack           ackMode
	flushEvery    uint64        // PublishFlush every this many messages per producer (0 = off)
	flushInterval time.Duration // PublishFlush at least this often per producer (0 = off)
	flushTimeout  time.Duration // bounds every PublishFlush, the final one included

	// Client.
	api        apiMode
	bufferSize int

	// The publish store (--ack persisted): the memory store, or with
	// --store a file store per connection in storeDir/<client name>.
	storeBytes    int
	storeMessages int
	storeDir      string
	durability    filestore.Durability
	syncInterval  time.Duration // --durability group
	syncBytes     int

	// Output.
	json     bool
	histFile string
	hlogFile string // --hlog: HdrHistogram interval log
	jsonFile string // --json-file: the JSON report, also
	htmlFile string // --html: the report as one self-contained page
	histUnit string // ns, us, ms
	quiet    bool
	interval time.Duration // progress line period

	// Verification.
	verify        bool
	verifyTimeout time.Duration

	// Diagnostics.
	pprof      string
	cpuProfile string
}

// defaultConfig returns the configuration plain `loadgen` runs with.
func defaultConfig() config {
	return config{
		messageType:    defaultMessageType,
		clientName:     "loadgen-" + strconv.Itoa(os.Getpid()),
		connectTimeout: defaultConnTimeout,
		spin:           defaultSpinFor,
		spinAuto:       true,
		producers:      1,
		connections:    1,
		topicSpec:      defaultTopic,
		size:           defaultSize,
		symbols:        strings.Split(defaultSymbols, ","),
		flushTimeout:   defaultFlushTimeout,
		bufferSize:     fastpub.DefaultBufferSize,
		storeBytes:     store.DefaultBytes,
		storeMessages:  store.DefaultMessages,
		syncInterval:   filestore.DefaultSyncInterval,
		syncBytes:      filestore.DefaultSyncBytes,
		histUnit:       "us",
		interval:       defaultInterval,
		verifyTimeout:  defaultVerifyTimeout,
	}
}

// uris are every --uri in order: Connect's first, then the failover ones.
func (c *config) uris() []string {
	if c.uri == "" {
		return nil
	}
	return append([]string{c.uri}, c.failover...)
}

// sendBuffer is the client's send buffer: --buffer, or with a store the
// store's byte limit, which sizes the ring instead (fastpub.WithStore).
func (c *config) sendBuffer() int {
	if c.ack == ackPersisted {
		return c.storeBytes
	}
	return c.bufferSize
}

// uriList is --uri: the flag may be repeated, each time one server.
type uriList struct{ c *config }

func (u uriList) String() string {
	if u.c == nil {
		return ""
	}
	return strings.Join(u.c.uris(), " ")
}

func (u uriList) Set(v string) error {
	if u.c.uri == "" {
		u.c.uri = v
	} else {
		u.c.failover = append(u.c.failover, v)
	}
	return nil
}

// totalProducers is connections × producers.
func (c *config) totalProducers() int { return c.connections * c.producers }

// flagSet builds the flag set that parses into c. Every flag is documented
// in usageText too (a test keeps them in sync).
func (c *config) flagSet(output io.Writer) (*flag.FlagSet, *rawFlags) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(output)
	r := &rawFlags{
		count:  "0",
		rate:   "0",
		size:   strconv.Itoa(c.size),
		buffer: strconv.Itoa(c.bufferSize),
		storeB: strconv.Itoa(c.storeBytes),
		storeM: strconv.Itoa(c.storeMessages),
		ack:    c.ack.String(),
		api:    c.api.String(),
		dur:    c.durability.String(),
		syncB:  strconv.Itoa(c.syncBytes),
	}
	fs.Var(uriList{c}, "uri", "")
	fs.BoolVar(&c.reconnect, "reconnect", c.reconnect, "")
	fs.DurationVar(&c.maxOutage, "max-outage", c.maxOutage, "")
	fs.StringVar(&c.messageType, "message-type", c.messageType, "")
	fs.StringVar(&c.clientName, "client-name", c.clientName, "")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", c.connectTimeout, "")

	fs.StringVar(&r.count, "count", r.count, "")
	fs.DurationVar(&c.duration, "duration", c.duration, "")
	fs.StringVar(&r.rate, "rate", r.rate, "")
	fs.StringVar(&r.spin, "spin", "auto", "")
	fs.IntVar(&c.producers, "producers", c.producers, "")
	fs.IntVar(&c.connections, "connections", c.connections, "")
	fs.StringVar(&c.topicSpec, "topics", c.topicSpec, "")

	fs.StringVar(&r.size, "size", r.size, "")
	fs.StringVar(&c.templateFile, "template", c.templateFile, "")
	fs.StringVar(&r.symbols, "symbols", strings.Join(c.symbols, ","), "")

	fs.StringVar(&r.ack, "ack", r.ack, "")
	fs.StringVar(&r.flushEvery, "flush-every", "", "")
	fs.DurationVar(&c.flushInterval, "flush-interval", c.flushInterval, "")
	fs.DurationVar(&c.flushTimeout, "flush-timeout", c.flushTimeout, "")

	fs.StringVar(&r.api, "api", r.api, "")
	fs.StringVar(&r.buffer, "buffer", r.buffer, "")
	fs.StringVar(&r.storeB, "store-bytes", r.storeB, "")
	fs.StringVar(&r.storeM, "store-messages", r.storeM, "")
	fs.StringVar(&c.storeDir, "store", c.storeDir, "")
	fs.StringVar(&r.dur, "durability", r.dur, "")
	fs.DurationVar(&c.syncInterval, "sync-interval", c.syncInterval, "")
	fs.StringVar(&r.syncB, "sync-bytes", r.syncB, "")

	fs.BoolVar(&c.json, "json", c.json, "")
	fs.StringVar(&c.histFile, "hist", c.histFile, "")
	fs.StringVar(&c.hlogFile, "hlog", c.hlogFile, "")
	fs.StringVar(&c.jsonFile, "json-file", c.jsonFile, "")
	fs.StringVar(&c.htmlFile, "html", c.htmlFile, "")
	fs.StringVar(&c.histUnit, "hist-unit", c.histUnit, "")
	fs.BoolVar(&c.quiet, "quiet", c.quiet, "")
	fs.DurationVar(&c.interval, "interval", c.interval, "")

	fs.BoolVar(&c.verify, "verify", c.verify, "")
	fs.DurationVar(&c.verifyTimeout, "verify-timeout", c.verifyTimeout, "")
	fs.StringVar(&c.verifyURI, "verify-uri", c.verifyURI, "")

	fs.StringVar(&c.pprof, "pprof", c.pprof, "")
	fs.StringVar(&c.cpuProfile, "cpuprofile", c.cpuProfile, "")
	fs.Usage = func() {} // parseFlags prints usageText itself on -h
	return fs, r
}

// rawFlags holds the flags whose syntax is richer than the flag package's
// (suffixes, enumerations); validate converts them.
type rawFlags struct {
	count, rate, size, buffer, symbols, ack, api, flushEvery, spin, storeB, storeM, dur, syncB string
}

// parseFlags parses the load-run command line. It never exits: -h returns
// flag.ErrHelp (after printing the usage to output), a mistake returns an
// error matching errUsage, and a template file that cannot be read returns
// the *os.PathError.
func parseFlags(args []string, output io.Writer) (*config, error) {
	c := defaultConfig()
	c.args = append([]string(nil), args...)
	fs, raw := c.flagSet(output)
	// The flag package prints its own complaint and the usage on a parse
	// error; we print one line instead.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(output, usageText)
			return nil, err
		}
		return nil, &usageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, &usageError{Msg: fmt.Sprintf("unexpected argument %q (flags only; `loadgen serve` runs the server)", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := c.apply(raw, set); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	if c.templateFile != "" {
		b, err := os.ReadFile(c.templateFile)
		if err != nil {
			return nil, err
		}
		if c.tmpl, err = parseTemplate(b); err != nil {
			return nil, usageErrf("template", "%s: %v", c.templateFile, err)
		}
		if err := c.validateTemplate(); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// apply converts the raw flags and fills the defaults that depend on which
// flags were given.
func (c *config) apply(r *rawFlags, set map[string]bool) error {
	var err error
	if c.count, err = parseCount(r.count); err != nil {
		return usageErrf("count", "%v", err)
	}
	if c.rate, err = parseRate(r.rate); err != nil {
		return usageErrf("rate", "%v", err)
	}
	if c.size, err = parseSize(r.size); err != nil {
		return usageErrf("size", "%v", err)
	}
	if c.bufferSize, err = parseSize(r.buffer); err != nil {
		return usageErrf("buffer", "%v", err)
	}
	if c.storeBytes, err = parseSize(r.storeB); err != nil {
		return usageErrf("store-bytes", "%v", err)
	}
	n, err := parseCount(r.storeM)
	if err != nil {
		return usageErrf("store-messages", "%v", err)
	}
	if n > store.MaxMessages {
		return usageErrf("store-messages", "%d: want %d to %d", n, store.MinMessages, store.MaxMessages)
	}
	c.storeMessages = int(n)
	if r.spin != "auto" {
		if c.spin, err = time.ParseDuration(r.spin); err != nil {
			return usageErrf("spin", "%q: want auto or a duration such as 100us", r.spin)
		}
		c.spinAuto = false
	}
	if r.flushEvery != "" {
		if c.flushEvery, err = parseCount(r.flushEvery); err != nil {
			return usageErrf("flush-every", "%v", err)
		}
		if c.flushEvery == 0 {
			return usageErrf("flush-every", "must be at least 1")
		}
	}
	if c.syncBytes, err = parseSize(r.syncB); err != nil {
		return usageErrf("sync-bytes", "%v", err)
	}
	switch r.dur {
	case "none":
		c.durability = filestore.DurabilityNone
	case "group":
		c.durability = filestore.DurabilityGroup
	case "every-publish":
		c.durability = filestore.DurabilityEveryPublish
	default:
		return usageErrf("durability", "%q: want none, group or every-publish", r.dur)
	}
	if c.storeDir != "" && !set["ack"] {
		r.ack = "persisted" // --store implies --ack persisted
	}
	switch r.ack {
	case "none":
		c.ack = ackNone
	case "processed":
		c.ack = ackProcessed
	case "persisted":
		c.ack = ackPersisted
	default:
		return usageErrf("ack", "%q: want none, processed or persisted", r.ack)
	}
	switch r.api {
	case "publish":
		c.api = apiPublish
	case "try":
		c.api = apiTry
	case "message":
		c.api = apiMessage
	default:
		return usageErrf("api", "%q: want publish, try or message", r.api)
	}
	c.symbols = nil
	for _, s := range strings.Split(r.symbols, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.symbols = append(c.symbols, s)
		}
	}
	if c.topics, err = parseTopics(c.topicSpec); err != nil {
		return usageErrf("topics", "%v", err)
	}
	if !set["duration"] && !set["count"] {
		c.duration = defaultDuration
	}
	if c.ack == ackProcessed && c.flushEvery == 0 && c.flushInterval == 0 {
		c.flushEvery = defaultProcessedN
	}
	if len(c.failover) > 0 {
		c.reconnect = true // several servers: fail over between them
	}
	if set["store"] && c.storeDir == "" {
		return usageErrf("store", "needs a directory")
	}
	if c.storeDir != "" && c.ack != ackPersisted {
		return usageErrf("store", "keeps the publishes of --ack persisted until the server persists them: with --ack %s there is nothing to keep (--store implies --ack persisted: leave --ack out)", c.ack)
	}
	if c.storeDir == "" {
		for _, f := range []string{"durability", "sync-interval", "sync-bytes"} {
			if set[f] {
				return usageErrf(f, "is a file store's setting: add --store DIR")
			}
		}
	} else {
		if c.durability != filestore.DurabilityGroup {
			for _, f := range []string{"sync-interval", "sync-bytes"} {
				if set[f] {
					return usageErrf(f, "paces the group commit: add --durability group")
				}
			}
		}
		if !set["client-name"] {
			// A file store belongs to one client name, and a restarted
			// loadgen resumes it only under the same name: stable names.
			c.clientName = defaultStoreClientName
		}
	}
	if c.ack != ackPersisted {
		for _, f := range []string{"store-bytes", "store-messages"} {
			if set[f] {
				return usageErrf(f, "sizes the publish store of --ack persisted: add --ack persisted")
			}
		}
	} else if set["buffer"] {
		return usageErrf("buffer", "with --ack persisted the store's --store-bytes sizes the send buffer (fastpub.WithStore); give --store-bytes instead")
	}
	if set["max-outage"] && !c.reconnect {
		return usageErrf("max-outage", "bounds reconnecting: add --reconnect or a second --uri")
	}
	if set["verify-uri"] && !c.verify {
		return usageErrf("verify-uri", "names the verifier's server: add --verify")
	}
	if set["verify-uri"] && c.uri == "" {
		return usageErrf("verify-uri", "names a server of the --uri group for the verifier; without --uri the embedded server is verified")
	}
	if set["message-type"] && c.uri != "" {
		return usageErrf("message-type", "sets the embedded server's message type; with --uri the type is the URI's last path segment (/amps/<type>)")
	}
	if set["size"] && set["template"] {
		return usageErrf("template", "give --size or --template, not both (a template's size is its rendered length)")
	}
	return nil
}

// validate checks the combination of flags. It is separate from parsing so
// tests can build a config by hand.
func (c *config) validate() error {
	seen := map[string]bool{}
	for _, u := range c.uris() {
		p, err := connstr.Parse(u)
		if err != nil {
			return usageErrf("uri", "%v", err)
		}
		if seen[u] {
			return usageErrf("uri", "%s is given twice", p.String())
		}
		seen[u] = true
	}
	if c.verifyURI != "" {
		if _, err := connstr.Parse(c.verifyURI); err != nil {
			return usageErrf("verify-uri", "%v", err)
		}
	}
	if c.maxOutage < 0 {
		return usageErrf("max-outage", "must not be negative")
	}
	if c.ack == ackPersisted {
		if err := (store.Limits{Bytes: c.storeBytes, Messages: c.storeMessages}).Validate(); err != nil {
			return usageErrf("store-bytes", "%v (--store-bytes a power of two from %s to %s, --store-messages %d to %d)",
				err, ibytes(store.MinBytes), ibytes(store.MaxBytes), store.MinMessages, store.MaxMessages)
		}
	}
	if c.storeDir != "" {
		if strings.ContainsRune(c.clientName, '/') || strings.ContainsRune(c.clientName, 0) {
			return usageErrf("client-name", "%q: with --store each connection's store is the directory --store/<client name>, so the name must not hold a slash", c.clientName)
		}
		if c.syncInterval <= 0 || c.syncInterval > 10*time.Second {
			return usageErrf("sync-interval", "%v: want more than 0 and at most 10s", c.syncInterval)
		}
		if c.syncBytes < 4<<10 || c.syncBytes > 1<<30 {
			return usageErrf("sync-bytes", "%d: want 4KiB to 1GiB", c.syncBytes)
		}
	}
	if c.messageType == "" || strings.ContainsAny(c.messageType, "/?&# ") {
		return usageErrf("message-type", "%q is not a message type (json, fix, nvfix, xml, binary, ...)", c.messageType)
	}
	if c.clientName == "" {
		return usageErrf("client-name", "must not be empty")
	}
	for _, r := range c.clientName {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return usageErrf("client-name", "%q has a control character, quote or backslash", c.clientName)
		}
	}
	if c.connectTimeout <= 0 {
		return usageErrf("connect-timeout", "must be positive")
	}
	if c.duration < 0 {
		return usageErrf("duration", "must not be negative")
	}
	if c.count == 0 && c.duration == 0 {
		return usageErrf("count", "give --count or --duration (both 0 would run forever)")
	}
	if c.rate < 0 || math.IsNaN(c.rate) || math.IsInf(c.rate, 0) {
		return usageErrf("rate", "must be 0 (as fast as possible) or a positive rate")
	}
	if c.rate > 1e9 {
		return usageErrf("rate", "%g msgs/s is above 1e9: use 0 for as fast as possible", c.rate)
	}
	if c.spin < 0 || c.spin > time.Second {
		return usageErrf("spin", "%v: want 0 (always sleep) to 1s", c.spin)
	}
	if c.producers < 1 {
		return usageErrf("producers", "must be at least 1")
	}
	if c.connections < 1 {
		return usageErrf("connections", "must be at least 1")
	}
	if c.totalProducers() > maxProducersTotal {
		return usageErrf("producers", "connections × producers = %d, above %d (each producer keeps its own latency histogram, about 270 KB)", c.totalProducers(), maxProducersTotal)
	}
	if len(c.topics) == 0 {
		return usageErrf("topics", "no topic")
	}
	if c.templateFile == "" {
		if c.size < 1 || c.size > maxPayload {
			return usageErrf("size", "%d bytes: want 1 to %d", c.size, maxPayload)
		}
		if c.verify && c.size < stampLen {
			return usageErrf("size", "--verify needs at least %d bytes per message (the stamp with run, producer, sequence and time)", stampLen)
		}
	}
	if len(c.symbols) == 0 {
		return usageErrf("symbols", "empty list")
	}
	if c.ack == ackNone && (c.flushEvery > 0 || c.flushInterval > 0) {
		return usageErrf("ack", "--flush-every and --flush-interval wait for the server's ack: add --ack processed or --ack persisted")
	}
	if c.flushInterval < 0 {
		return usageErrf("flush-interval", "must not be negative")
	}
	if c.flushTimeout <= 0 {
		return usageErrf("flush-timeout", "must be positive")
	}
	if c.bufferSize < 4<<10 || c.bufferSize > 1<<30 || c.bufferSize&(c.bufferSize-1) != 0 {
		return usageErrf("buffer", "%d: want a power of two from 4KiB to 1GiB", c.bufferSize)
	}
	switch c.histUnit {
	case "ns", "us", "ms":
	default:
		return usageErrf("hist-unit", "%q: want ns, us or ms", c.histUnit)
	}
	if c.interval < 10*time.Millisecond {
		return usageErrf("interval", "must be at least 10ms")
	}
	if c.verifyTimeout <= 0 {
		return usageErrf("verify-timeout", "must be positive")
	}
	if c.verify && c.totalProducers()*len(c.topics) > maxVerifyCells {
		return usageErrf("verify", "producers × topics = %d, above the verifier's %d", c.totalProducers()*len(c.topics), maxVerifyCells)
	}
	return nil
}

// validateTemplate checks the loaded template against the rest.
func (c *config) validateTemplate() error {
	if c.verify && !c.tmpl.hasStamp {
		return usageErrf("template", "--verify needs a {{stamp}} field in the template: it carries the run, producer, sequence and send time the verifier reads back")
	}
	if c.tmpl.maxLen(c.symbols) > maxPayload {
		return usageErrf("template", "renders up to %d bytes, above %d", c.tmpl.maxLen(c.symbols), maxPayload)
	}
	return nil
}

// parseCount parses a non-negative message count: an integer with an
// optional k, M or G suffix (×1000, ×1e6, ×1e9), e.g. 2M. Underscores are
// allowed between digits.
func parseCount(s string) (uint64, error) {
	v, err := parseDecimal(s)
	if err != nil {
		return 0, err
	}
	if v != math.Trunc(v) || v > 1<<62 {
		return 0, fmt.Errorf("%q is not a whole count", s)
	}
	return uint64(v), nil
}

// parseRate parses messages per second: a number with an optional k, M or G
// suffix, e.g. 50k or 2.5M.
func parseRate(s string) (float64, error) {
	return parseDecimal(s)
}

func parseDecimal(s string) (float64, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1e3, t[:n-1]
		case 'M':
			mult, t = 1e6, t[:n-1]
		case 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a non-negative number (suffixes k, M, G allowed)", s)
	}
	return v * mult, nil
}

// parseSize parses a byte size: an integer with an optional suffix B, KiB,
// MiB, GiB (powers of 1024; K, k, KB, M, MB, G, GB mean the same here, as
// buffer sizes are powers of two), e.g. 128, 4KiB, 1MiB.
func parseSize(s string) (int, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or with a suffix KiB, MiB, GiB)", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %v", s, err)
	}
	var mult int64
	switch strings.TrimSpace(t[i:]) {
	case "", "B", "b":
		mult = 1
	case "K", "k", "KB", "kB", "KiB", "kiB":
		mult = 1 << 10
	case "M", "MB", "MiB":
		mult = 1 << 20
	case "G", "GB", "GiB":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("%q: unknown size suffix %q (want B, KiB, MiB or GiB)", s, t[i:])
	}
	if n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int(n * mult), nil
}

// parseTopics expands --topics: a comma-separated list whose items are a
// topic name, or "name:N" for the N topics name-0 … name-(N-1). The
// separator is a dash, not a dot: AMPS reads a subscription topic with
// regular-expression characters (a dot among them) as a pattern.
func parseTopics(spec string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("%q has an empty topic", spec)
		}
		name, nstr, numbered := strings.Cut(item, ":")
		n := 1
		if numbered {
			v, err := strconv.Atoi(nstr)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("%q: want name:N with N ≥ 1", item)
			}
			n = v
		}
		if name == "" {
			return nil, fmt.Errorf("%q has an empty topic name", item)
		}
		for _, r := range name {
			if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
				return nil, fmt.Errorf("topic %q has a control character, quote or backslash", name)
			}
		}
		if len(out)+n > maxTopics {
			return nil, fmt.Errorf("more than %d topics", maxTopics)
		}
		for i := 0; i < n; i++ {
			t := name
			if numbered {
				t = name + "-" + strconv.Itoa(i)
			}
			if seen[t] {
				return nil, fmt.Errorf("topic %q is listed twice", t)
			}
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}
