//go:build !unix

package mcphttp

// openFileLimit is unknown here: connections are not bounded by
// descriptors the same way (Windows sockets are handles without a
// per-process cap of the usual size).
func openFileLimit() uint64 { return 0 }
