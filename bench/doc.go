// Package bench holds fastpub's performance benchmarks and the harness they
// share: the ceiling (pre-encoded frames written contiguously over loopback
// TCP to a reader that discards them) and fastpub publishing to the test
// server's discard path, measured side by side in one process so that their
// ratio means something on a shared, noisy machine.
//
// Run: go test -run '^$' -bench . -benchtime 2000000x ./bench/
package bench
