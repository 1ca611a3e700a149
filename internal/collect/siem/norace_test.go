//go:build !race

package siem

const raceEnabled = false
