//go:build race

package ampstest

// raceOn: the race detector slows the server about tenfold, and the long
// stored-stream tests run fewer rounds under it.
const raceOn = true
