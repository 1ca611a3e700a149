//go:build race

package siem

// raceEnabled shrinks the large-file test under the race detector, which slows streaming about tenfold.
const raceEnabled = true
