//go:build !race

package fastpub_test

// chaosFull is TestChaos in the normal suite: 1 M messages, over 100
// faults. chaosSmall is -short's.
var (
	chaosFull  = chaosScale{producers: 8, perProducer: 125_000, killMin: 3000, killMax: 12000, minFaults: 100, stalls: 1}
	chaosSmall = chaosScale{producers: 8, perProducer: 5000, killMin: 500, killMax: 3000, minFaults: 15, stalls: 0}
)

// raceOn: see chaos_race_test.go.
const raceOn = false
