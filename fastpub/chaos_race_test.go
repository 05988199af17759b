//go:build race

package fastpub_test

// Under the race detector TestChaos runs smaller: the same faults, fewer
// messages.
var (
	chaosFull  = chaosScale{producers: 8, perProducer: 10_000, killMin: 1000, killMax: 4000, minFaults: 20, stalls: 1}
	chaosSmall = chaosScale{producers: 8, perProducer: 5000, killMin: 500, killMax: 3000, minFaults: 15, stalls: 0}
)

// raceOn: the race detector makes every publish take longer than the
// inline-write threshold, so each one finds the socket idle.
const raceOn = true
