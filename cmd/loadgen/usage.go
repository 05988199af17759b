package main

// usageText is printed by -h. Every flag of flagSet appears here (a test
// checks it).
const usageText = `Usage: loadgen [flags]
       loadgen serve [--listen ADDR] [--unix PATH]   (run the test server alone; serve -h)
       loadgen selfcheck [--uri URI]                  (loadgen against a bare Publish loop; selfcheck -h)
       loadgen merge FILE...                          (merge runs' --json-file reports and --hlog logs; merge -h)

Publishes a workload to AMPS with fastpub and prints a report. Without --uri it
starts the embedded ampstest server in this process and publishes to it.

Target
  --uri URI              AMPS connection string, e.g. tcp://host:9007/amps/json
                         (default: the embedded server on 127.0.0.1, a free port).
                         Repeat it for a failover group: the first is where each
                         connection connects, the others are where it fails over to
                         (round robin); more than one turns --reconnect on
  --reconnect            reconnect by itself after a lost connection (fastpub
                         WithReconnect: exponential delay with full jitter, the same
                         client name, replay of what the server has not persisted
                         or received); on with several --uri (default off)
  --max-outage D         with --reconnect: give up after D without a connection
                         (default 0: never; --flush-timeout still bounds a producer
                         blocked on a full buffer)
  --message-type TYPE    message type of the embedded server's URI (default json)
  --client-name PREFIX   connection i logs on as PREFIX-i, the verifier as
                         PREFIX-verify (default loadgen-<pid>; with --store
                         loadgen, the same in every run, so that a restarted
                         loadgen resumes its stores: two loadgens with --store
                         against one server need different prefixes)
  --connect-timeout D    bound for each connect and logon (default 10s)

Workload (--count and --duration: whichever ends first)
  --count N              messages in total, e.g. 2000000 or 2M (default: no limit)
  --duration D           how long to publish (default 5s when --count is not given)
  --rate R               messages/s over all producers, e.g. 50000, 50k, 1.5M;
                         0 = as fast as possible (default 0). A fixed rate follows a
                         schedule and latency counts from each message's due time.
  --spin D|auto          with --rate: the last D of each wait for a due time is spent
                         yielding the CPU instead of sleeping, since timers wake late;
                         0 always sleeps; auto measures how late a timer wakes here
                         and spins twice that, 100µs to 5ms (default auto). The
                         report shows the pacer's own lateness apart from the client's
  --producers N          publishing goroutines per connection (default 1)
  --connections N        client connections (default 1)
  --topics SPEC          a topic, name:N for name-0 … name-(N-1), or a comma list
                         of either; producers round-robin over them (default loadgen)

Payload
  --size SIZE            generated payload size: 128, 1KiB, ... (default 128)
  --template FILE        payload template instead of --size; fields {{seq}} {{ts}}
                         {{symbol}} {{producer}} {{stamp}} are filled per message
                         (example: cmd/loadgen/templates/tick.json)
  --symbols LIST         comma list {{symbol}} draws from
                         (default AAPL,MSFT,GOOG,AMZN,NVDA,META,TSLA,IBM)

Acknowledgements
  --ack MODE             none: only the final flush waits for the server;
                         processed: PublishFlush (waits for the processed ack)
                         every --flush-every messages per producer (default 1000)
                         or --flush-interval;
                         persisted: a publish store (fastpub WithStore; a memory
                         store, or a file store with --store):
                         every publish carries a sequence number and asks for a
                         persisted ack, a reconnect replays what is unpersisted,
                         and every flush (--flush-every, --flush-interval, the
                         final one) waits until the server has persisted
                         everything before it; no periodic flush unless asked
                         (default none)
  --flush-every N        with --ack processed or persisted: flush every N messages
                         per producer
  --flush-interval D     with --ack processed or persisted: flush at least every D
                         per producer
  --flush-timeout D      bound for each flush, for a publish blocked on a full send
                         buffer, and for the shutdown: the final flush and Close
                         together, from the end of publishing (default 30s)

Client
  --api CALL             publish: PublishContext (blocks while the send buffer is
                         full); try: TryPublish, retrying on ErrBufferFull;
                         message: PublishMessage (default publish)
  --buffer SIZE          fastpub send buffer, a power of two (default 4MiB); not
                         with --ack persisted, where --store-bytes sizes it
  --store-bytes SIZE     with --ack persisted: the store's byte bound, a power of
                         two from 64KiB to 1GiB; it is the send buffer too
                         (default 64MiB, store.DefaultBytes)
  --store-messages N     with --ack persisted: the store's message bound, 256 to
                         16777216 (default 1048576, store.DefaultMessages). At
                         either bound publishes block until the server persists
  --store DIR            a file store (store/filestore) instead of the memory
                         store; implies --ack persisted (another --ack is a usage
                         error). Connection i keeps its store in DIR/PREFIX-i
                         (its client name: a store belongs to one name and is
                         locked while open). A later run with the same DIR and
                         names resumes the stores: frames an earlier run left
                         unpersisted are replayed at the first logon and the
                         sequence numbers continue. Each store reserves its disk
                         at open: 2 × --store-bytes + 20 B × --store-messages +
                         two segments (about 200 MiB at the defaults). The
                         embedded server is new each run: it is told each
                         client's persisted sequence from its store, as a server
                         that kept its state would know it
  --durability MODE      with --store: none (page cache: survives a crash of the
                         process), group (msync every --sync-interval or
                         --sync-bytes, whichever first, on the store's goroutine:
                         a machine crash loses at most that), every-publish (each
                         publish flushed before it returns) (default none)
  --sync-interval D      with --durability group: longest wait of a frame for its
                         flush, up to 10s (default 2ms, filestore.DefaultSyncInterval)
  --sync-bytes SIZE      with --durability group: flush once this much was appended
                         since the last flush, 4KiB to 1GiB (default 1MiB,
                         filestore.DefaultSyncBytes)

Output (every output file's directory is checked before publishing)
  --json                 print the report as one JSON object on stdout
  --hist FILE            write the publish-to-wire latency histogram to FILE in the
                         HdrHistogram percentile-distribution format, the enqueue
                         latency to FILE-enqueue (lat.hgrm: lat-enqueue.hgrm), plus
                         FILE-delivery / FILE-flush when measured
  --hist-unit UNIT       ns, us or ms for --hist values (default us)
  --hlog FILE            write every latency kind per --interval to FILE, in the
                         HdrHistogram interval log format (tags wire, enqueue, pacer,
                         delivery, flush; values in ns): HistogramLogAnalyzer reads it,
                         and so does loadgen merge. Encoding an interval allocates
                         (a few thousand allocations each, in the interval writer,
                         not per message: they show in the report's allocs)
  --json-file FILE       also write the JSON report to FILE (for loadgen merge)
  --html FILE            also write the report as one self-contained HTML page
  --quiet                no progress line and no notes on stderr
  --interval D           progress line, timeline and --hlog period (default 1s)

Verification
  --verify               subscribe to every topic first, stamp every payload, and
                         check each message arrives exactly once and in order
  --verify-timeout D     longest wait for the tail after the final flush (default 10s)
  --verify-uri URI       the verifier's server, another member of the --uri group
                         (default: the first --uri)

Diagnostics
  --pprof ADDR           serve net/http/pprof on ADDR during the run
  --cpuprofile FILE      write a CPU profile of the run

Exit status: 0 clean; 1 publish error, loss, duplicate, reorder; 2 usage;
130 interrupted (the report is still printed).
`
