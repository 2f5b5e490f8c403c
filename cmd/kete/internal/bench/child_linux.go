package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel interrupt the child if this process dies first, so that
// a killed bench leaves no server or hub behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGINT}
}
