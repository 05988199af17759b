//go:build !race

package ampstest

// raceOn: see race_test.go.
const raceOn = false
