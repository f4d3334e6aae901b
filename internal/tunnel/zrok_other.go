//go:build !unix

package tunnel

import (
	"os"
	"os/exec"
	"syscall"
)

func newProcessGroup(*exec.Cmd) {}

// signalGroup can only kill the process itself on this platform.
func signalGroup(pid int, _ syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

const (
	sigTerm = syscall.Signal(15)
	sigKill = syscall.Signal(9)
)
