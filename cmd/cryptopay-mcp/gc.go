package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// httpGCPercent is the garbage collector's target for `http` when GOGC is
// not set. The go-sdk allocates about 0.5 MB per tool call; at the Go
// default (100) a lone client triggers a collection every 4–6 calls, each
// marking the server's whole live heap (tool schemas, metrics, caches:
// about 2.3 MB, ten times a bare go-sdk server's), which made a
// one-connection call cost 1.5 times a bare server's CPU. At 400 the heap
// may grow to five times the live data between collections instead of
// twice (docs/benchmarks-http.md, "The single-connection gap").
const httpGCPercent = 400

// tuneGC sets the HTTP server's garbage-collector target unless the
// operator chose one (GOGC), and, unless GOMEMLIMIT is set, a soft memory
// limit of three quarters of the cgroup's memory limit when there is one,
// so that the larger target never pushes the process into its container's
// out-of-memory killer. It returns what it set, for the debug log.
func tuneGC(getenv func(string) string, cgroupMax func() (int64, bool)) (gcPercent int, memLimit int64) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(httpGCPercent)
		gcPercent = httpGCPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		if max, ok := cgroupMax(); ok {
			memLimit = max / 4 * 3
			debug.SetMemoryLimit(memLimit)
		}
	}
	return gcPercent, memLimit
}

// cgroupMemoryMax reads the cgroup v2 memory limit of this process's
// cgroup; "max" (no limit) or no cgroup v2 reports false.
func cgroupMemoryMax() (int64, bool) {
	b, err := os.ReadFile("/sys/fs/cgroup/memory.max")
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
