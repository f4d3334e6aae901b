//go:build unix

package mcphttp

import "syscall"

// openFileLimit is the process's open-file limit (RLIMIT_NOFILE, which
// the Go runtime raises to the hard limit at start-up); 0 if unknown.
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return uint64(rl.Cur)
}
