//go:build race

package integrity_test

// raceEnabled: the race detector slows the code under test several times, so
// timing bars do not apply.
const raceEnabled = true
