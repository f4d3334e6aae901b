//go:build race

package qr_test

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = true
