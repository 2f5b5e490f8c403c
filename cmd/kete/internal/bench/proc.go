package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc times; 100 on every Linux architecture Go
// supports (sysconf needs cgo, and the kernel ABI fixes it).
const clockTicks = 100

// procSample is one reading of a process from /proc.
type procSample struct {
	PID int
	// CPU is user + system time so far; User and System split it.
	CPU, User, System time.Duration
	// RSS is the resident set size in bytes (VmRSS).
	RSS int64
	// Threads is the number of threads.
	Threads int
}

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	s := procSample{PID: pid}
	statPath := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(statPath)
	if err != nil {
		return s, fmt.Errorf("read %s: %w", statPath, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces; fields after
	// the last ')' are numbered from 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s, fmt.Errorf("%s: no ')' in %q", statPath, b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15, num_threads 20.
	if len(f) < 18 {
		return s, fmt.Errorf("%s: %d fields, want at least 20", statPath, len(f)+2)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	th, err3 := strconv.Atoi(f[17])
	if err1 != nil || err2 != nil || err3 != nil {
		return s, fmt.Errorf("%s: bad utime/stime/num_threads %q %q %q", statPath, f[11], f[12], f[17])
	}
	s.User = time.Duration(ut) * time.Second / clockTicks
	s.System = time.Duration(st) * time.Second / clockTicks
	s.CPU = s.User + s.System
	s.Threads = th
	statusPath := fmt.Sprintf("/proc/%d/status", pid)
	b, err = os.ReadFile(statusPath)
	if err != nil {
		return s, fmt.Errorf("read %s: %w", statusPath, err)
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		kb := strings.Fields(v)
		if len(kb) < 1 {
			return s, fmt.Errorf("%s: bad VmRSS line %q", statusPath, line)
		}
		n, err := strconv.ParseInt(kb[0], 10, 64)
		if err != nil {
			return s, fmt.Errorf("%s: VmRSS %q: %w", statusPath, kb[0], err)
		}
		s.RSS = n << 10
		return s, nil
	}
	return s, fmt.Errorf("%s: no VmRSS line", statusPath)
}

// hostSample is one reading of the whole host's CPU time: the aggregate line of
// /proc/stat, and the CPU time of every process. /proc/stat is sampled at timer ticks,
// and in some VMs (Firecracker with halt-polling, for one) ticks miss most of a bursty
// load such as a fan-out's; per-process times come from the scheduler's clock, so
// busyBetween takes whichever estimate is higher.
type hostSample struct {
	// Busy and Total are jiffies over all CPUs since boot; Busy excludes idle and iowait.
	Busy, Total uint64
	CPUs        int
	// At is when the sample was taken; Procs is each process's CPU time then.
	At    time.Time
	Procs map[int]time.Duration
}

// readHost reads the aggregate "cpu" line of /proc/stat and every process's CPU time.
func readHost() (hostSample, error) {
	h := hostSample{At: time.Now(), Procs: readAllProcCPU()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return h, fmt.Errorf("read /proc/stat: %w", err)
	}
	found := false
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "cpu" {
			found = true
			for i, v := range f[1:] {
				if i >= 8 { // guest times are already inside user/nice
					break
				}
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return h, fmt.Errorf("/proc/stat: cpu field %d %q: %w", i+1, v, err)
				}
				h.Total += n
				if i != 3 && i != 4 { // idle, iowait
					h.Busy += n
				}
			}
		} else if strings.HasPrefix(f[0], "cpu") {
			h.CPUs++
		}
	}
	if !found {
		return h, fmt.Errorf("/proc/stat: no cpu line")
	}
	return h, nil
}

// readAllProcCPU returns the CPU time of every process /proc lists (those that vanish
// while it reads are left out).
func readAllProcCPU() map[int]time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make(map[int]time.Duration, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if cpu, err := readProcCPU(pid); err == nil {
			out[pid] = cpu
		}
	}
	return out
}

// readProcCPU is readProc's utime + stime alone.
func readProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// busyBetween is the share (0..1) of all CPUs that was busy between two samples: the
// higher of /proc/stat's estimate and the processes' CPU time over the wall time
// (processes that exited in between are not counted there).
func busyBetween(a, b hostSample) float64 {
	busy := 0.0
	if b.Total > a.Total {
		busy = float64(b.Busy-a.Busy) / float64(b.Total-a.Total)
	}
	wall := b.At.Sub(a.At)
	if cpus := max(a.CPUs, b.CPUs); wall > 0 && cpus > 0 && b.Procs != nil {
		var used time.Duration
		for pid, cpu := range b.Procs {
			if before, ok := a.Procs[pid]; ok {
				used += max(0, cpu-before)
			} else {
				used += cpu // started in between
			}
		}
		busy = max(busy, min(1, used.Seconds()/(wall.Seconds()*float64(cpus))))
	}
	return busy
}
