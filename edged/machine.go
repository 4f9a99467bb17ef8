package edged

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// machineFacts is what the node status says of the machine. Zero values are "could not be read".
type machineFacts struct {
	cpus         int
	memKnown     bool
	memTotal     int64 // bytes
	memAvailable int64 // bytes
	fsTotal      int64 // bytes of the data dir's filesystem
	fsAvail      int64 // bytes available to unprivileged users
	inodesTotal  int64
	inodesFree   int64
	pidsUsed     int64 // kernel scheduling entities (threads) in use
	pidLimit     int64 // min(pid_max, threads-max)

	kernel, osImage, machineID, systemUUID, bootID string
}

// readMachine reads the machine's facts below root (normally "/"): /proc/meminfo, /proc/loadavg,
// /proc/sys/kernel/{osrelease,pid_max,threads-max,random/boot_id}, /sys/devices/system/cpu/online,
// /sys/class/dmi/id/product_uuid, /etc/os-release and /etc/machine-id; and statfs of dataDir.
// Each fact that cannot be read is left zero.
func readMachine(root, dataDir string) machineFacts {
	p := func(rel string) string { return filepath.Join(root, rel) }
	var f machineFacts
	f.cpus = onlineCPUs(readTrim(p("sys/devices/system/cpu/online")))
	if f.cpus == 0 {
		f.cpus = runtime.NumCPU()
	}
	if mi, err := os.ReadFile(p("proc/meminfo")); err == nil {
		f.memTotal, f.memAvailable, f.memKnown = parseMeminfo(mi)
	}
	f.pidsUsed = parseLoadavgThreads(readTrim(p("proc/loadavg")))
	pidMax, _ := strconv.ParseInt(readTrim(p("proc/sys/kernel/pid_max")), 10, 64)
	threadsMax, _ := strconv.ParseInt(readTrim(p("proc/sys/kernel/threads-max")), 10, 64)
	switch {
	case pidMax > 0 && threadsMax > 0:
		f.pidLimit = min(pidMax, threadsMax)
	default:
		f.pidLimit = max(pidMax, threadsMax)
	}
	if f.pidsUsed == 0 {
		f.pidLimit = 0 // unknown use: no verdict
	}
	var fs unix.Statfs_t
	if dataDir != "" && unix.Statfs(dataDir, &fs) == nil && fs.Blocks > 0 {
		bs := int64(fs.Bsize) // int32 on some platforms
		f.fsTotal, f.fsAvail = int64(fs.Blocks)*bs, int64(fs.Bavail)*bs
		f.inodesTotal, f.inodesFree = int64(fs.Files), int64(fs.Ffree)
	}
	f.kernel = readTrim(p("proc/sys/kernel/osrelease"))
	f.bootID = readTrim(p("proc/sys/kernel/random/boot_id"))
	f.machineID = readTrim(p("etc/machine-id"))
	f.systemUUID = readTrim(p("sys/class/dmi/id/product_uuid")) // readable by root only
	if b, err := os.ReadFile(p("etc/os-release")); err == nil {
		f.osImage = osImage(b)
	}
	return f
}

// parseMeminfo returns MemTotal and MemAvailable of /proc/meminfo in bytes, and whether both were there.
func parseMeminfo(b []byte) (total, available int64, ok bool) {
	var haveTotal, haveAvail bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		if len(fields) > 2 && fields[2] == "kB" {
			v *= 1024
		}
		switch fields[0] {
		case "MemTotal:":
			total, haveTotal = v, true
		case "MemAvailable:":
			available, haveAvail = v, true
		}
	}
	return total, available, haveTotal && haveAvail
}

// parseLoadavgThreads returns the number of kernel scheduling entities of /proc/loadavg ("0.1 0.2 0.3
// 4/113 27625": 113), or 0.
func parseLoadavgThreads(s string) int64 {
	fields := strings.Fields(s)
	if len(fields) < 4 {
		return 0
	}
	_, total, ok := strings.Cut(fields[3], "/")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(total, 10, 64)
	return n
}

// onlineCPUs counts the CPUs of a kernel CPU list such as "0-3,6,8-9", or returns 0.
func onlineCPUs(list string) int {
	if list == "" {
		return 0
	}
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}

// osImage is PRETTY_NAME of an os-release file, or "Linux" when it has none (as kubelet's cadvisor).
func osImage(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || k != "PRETTY_NAME" {
			continue
		}
		if u, err := strconv.Unquote(v); err == nil {
			return u
		}
		return strings.Trim(v, `"'`)
	}
	return "Linux"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
