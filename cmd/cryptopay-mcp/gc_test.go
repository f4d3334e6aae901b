package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
	})
	limit := func(n int64, ok bool) func() (int64, bool) { return func() (int64, bool) { return n, ok } }
	for _, tc := range []struct {
		name          string
		env           map[string]string
		cgroup        func() (int64, bool)
		wantGC        int // what GOGC the runtime ends with
		wantLimit     int64
		wantSetGC     int
		wantSetLimits int64
	}{
		{"defaults, no cgroup limit", nil, limit(0, false), httpGCPercent, prevLimit, httpGCPercent, 0},
		{"defaults, 1 GiB container", nil, limit(1<<30, true), httpGCPercent, 3 << 28, httpGCPercent, 3 << 28},
		{"operator's GOGC and GOMEMLIMIT win", map[string]string{"GOGC": "50", "GOMEMLIMIT": "100MiB"}, limit(1<<30, true), 100, prevLimit, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(prevLimit)
			gc, lim := tuneGC(func(k string) string { return tc.env[k] }, tc.cgroup)
			if gc != tc.wantSetGC || lim != tc.wantSetLimits {
				t.Errorf("tuneGC = %d, %d; want %d, %d", gc, lim, tc.wantSetGC, tc.wantSetLimits)
			}
			if got := debug.SetGCPercent(100); got != tc.wantGC {
				t.Errorf("GC percent %d, want %d", got, tc.wantGC)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tc.wantLimit)
			}
		})
	}
}
