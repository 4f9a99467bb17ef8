package testenv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// netnsFirst and netnsLast bound X in the links 198.18.X.0/30 of NewNetns: below the pod subnets of
// StartContainerd (podNetFirst and up), so the two never meet.
const netnsFirst, netnsLast = 1, 99

// Netns is a network namespace of its own joined to the root namespace by a veth pair, made by
// NewNetns for one test: the root side of the link is HostIf with HostIP, the namespace side NSIf with
// NSIP, in Subnet "198.18.X.0/30". Packet loss and blackholes are iptables rules inside the namespace
// (its INPUT and OUTPUT chains, on NSIf only), so they act on both directions of the link and leave the
// root namespace's rules untouched. Everything (namespace, veth pair, rules) is removed at the test's
// cleanup.
type Netns struct {
	Name   string // the namespace, "ehns<X>" (a file in /run/netns)
	HostIf string // the veth end in the root namespace, "ehns<X>h"
	NSIf   string // the veth end in the namespace, "ehns<X>n"
	HostIP string // "198.18.X.1" on HostIf
	NSIP   string // "198.18.X.2" on NSIf
	Subnet string // "198.18.X.0/30"

	ip, iptables string

	mu      sync.Mutex
	dropped uint64 // drops of the loss rules SetLoss flushed
}

// Chains of the namespace's filter table: the blackhole comes first (its drops are not counted as loss),
// then the random loss.
const (
	chainBlackhole = "EH-BLACKHOLE"
	chainLoss      = "EH-LOSS"
)

// NewNetns creates a namespace and a veth pair to it with addresses in a 198.18.X.0/30 of its own. It
// needs root, ip (iproute2) and iptables, and stops the test through Missing without them. Parallel
// instances, in this process or another, never share X: creating the veth pair of a given name is
// atomic, so the host link "ehns<X>h" is the claim (as StartContainerd's bridge is).
func NewNetns(t TB) *Netns {
	t.Helper()
	RequireRoot(t, "network namespaces")
	n := &Netns{ip: LookPath(t, "ip"), iptables: LookPath(t, "iptables")}
	n.claim(t)
	t.Cleanup(func() { n.remove(t) })

	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(n.ip, args...).CombinedOutput(); err != nil {
			t.Fatalf("netns: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("link", "set", n.NSIf, "netns", n.Name)
	run("addr", "add", n.HostIP+"/30", "dev", n.HostIf)
	run("link", "set", n.HostIf, "up")
	run("-n", n.Name, "addr", "add", n.NSIP+"/30", "dev", n.NSIf)
	run("-n", n.Name, "link", "set", n.NSIf, "up")
	run("-n", n.Name, "link", "set", "lo", "up")

	for _, args := range [][]string{
		{"-N", chainBlackhole},
		{"-N", chainLoss},
		{"-A", "INPUT", "-i", n.NSIf, "-j", chainBlackhole},
		{"-A", "INPUT", "-i", n.NSIf, "-j", chainLoss},
		{"-A", "OUTPUT", "-o", n.NSIf, "-j", chainBlackhole},
		{"-A", "OUTPUT", "-o", n.NSIf, "-j", chainLoss},
	} {
		if err := n.ipt(args...); err != nil {
			t.Fatalf("netns: %v", err)
		}
	}
	return n
}

// claim picks X and creates the veth pair and the namespace for it.
func (n *Netns) claim(t TB) {
	t.Helper()
	span := netnsLast - netnsFirst + 1
	offset := os.Getpid() % span
	for i := range span {
		x := netnsFirst + (offset+i)%span
		name := "ehns" + strconv.Itoa(x)
		host, peer := name+"h", name+"n"
		if _, err := net.InterfaceByName(host); err == nil || subnetInUse(x) {
			continue
		}
		out, err := exec.Command(n.ip, "link", "add", "name", host, "type", "veth", "peer", "name", peer).CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "File exists") {
				continue // another instance was quicker
			}
			t.Fatalf("netns: create veth %s: %v: %s", host, err, out)
		}
		if out, err := exec.Command(n.ip, "netns", "add", name).CombinedOutput(); err != nil {
			// A namespace of that name left by a crashed run: leave it, try the next X.
			_ = exec.Command(n.ip, "link", "del", host).Run()
			if strings.Contains(string(out), "File exists") {
				continue
			}
			t.Fatalf("netns: ip netns add %s: %v: %s", name, err, out)
		}
		n.Name, n.HostIf, n.NSIf = name, host, peer
		n.HostIP, n.NSIP = fmt.Sprintf("198.18.%d.1", x), fmt.Sprintf("198.18.%d.2", x)
		n.Subnet = fmt.Sprintf("198.18.%d.0/30", x)
		return
	}
	t.Fatalf("netns: no free link 198.18.%d-%d.0/30", netnsFirst, netnsLast)
}

// remove deletes the veth pair, then the namespace (with its rules). The veth goes first: sockets still
// open in the namespace (TIME_WAIT ones too) keep it alive after `ip netns del`, with its end of the link.
func (n *Netns) remove(t TB) {
	if _, err := net.InterfaceByName(n.HostIf); err == nil {
		if out, err := exec.Command(n.ip, "link", "del", n.HostIf).CombinedOutput(); err != nil {
			t.Errorf("netns cleanup: delete veth %s: %v: %s", n.HostIf, err, out)
		}
	}
	if out, err := exec.Command(n.ip, "netns", "del", n.Name).CombinedOutput(); err != nil {
		t.Errorf("netns cleanup: delete namespace %s: %v: %s", n.Name, err, out)
	}
}

// Command returns a command that runs name with args inside the namespace (`ip netns exec`).
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command(n.ip, append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// ipt runs iptables with args in the namespace.
func (n *Netns) ipt(args ...string) error {
	out, err := n.Command(n.iptables, append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s in %s: %v: %s", strings.Join(args, " "), n.Name, err, bytes.TrimSpace(out))
	}
	return nil
}

// Do runs f on an OS thread that has entered the namespace: sockets f creates (net.Listen, a
// net.Dialer's dial) belong to the namespace and stay there after f returns, whatever thread then uses
// them. The thread is never handed back to other goroutines (it ends with f's goroutine), so the
// namespace does not leak into the rest of the process.
func (n *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // no UnlockOSThread: the runtime ends the thread with this goroutine
		fd, err := unix.Open("/run/netns/"+n.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("netns %s: %w", n.Name, err)
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		_ = unix.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("netns %s: setns: %w", n.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Listen is net.Listen inside the namespace.
func (n *Netns) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// DialContext is net.Dialer.DialContext from inside the namespace.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// SetLoss drops each packet crossing the link, in either direction, with probability p (iptables
// statistic, mode random), replacing the previous loss; p = 0 stops the loss.
func (n *Netns) SetLoss(t TB, p float64) {
	t.Helper()
	if p < 0 || p > 1 {
		t.Fatalf("netns: loss probability %v not in [0, 1]", p)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, dropped, err := n.counters()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	if err := n.ipt("-F", chainLoss); err != nil {
		t.Fatalf("netns: %v", err)
	}
	n.dropped += dropped // the flush forgets the drop rule's counter (not the jumps')
	if p == 0 {
		return
	}
	if err := n.ipt("-A", chainLoss, "-m", "statistic", "--mode", "random", "--probability",
		strconv.FormatFloat(p, 'f', -1, 64), "-j", "DROP"); err != nil {
		t.Fatalf("netns: %v", err)
	}
}

// Blackhole drops every packet crossing the link, in both directions, until Restore: the connections
// across it hang (nothing is refused or reset). Blackholed packets are not counted by Loss.
func (n *Netns) Blackhole(t TB) {
	t.Helper()
	if err := n.ipt("-F", chainBlackhole); err != nil {
		t.Fatalf("netns: %v", err)
	}
	if err := n.ipt("-A", chainBlackhole, "-j", "DROP"); err != nil {
		t.Fatalf("netns: %v", err)
	}
}

// Restore ends a Blackhole.
func (n *Netns) Restore(t TB) {
	t.Helper()
	if err := n.ipt("-F", chainBlackhole); err != nil {
		t.Fatalf("netns: %v", err)
	}
}

// Loss returns how many packets crossed into the loss stage since NewNetns (both directions, blackholed
// ones excluded) and how many of them the loss rules dropped.
func (n *Netns) Loss(t TB) (packets, dropped uint64) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	seen, d, err := n.counters()
	if err != nil {
		t.Fatalf("netns: %v", err)
	}
	return seen, n.dropped + d
}

// counters reads the packet counters of the jumps to the loss chain (every packet reaching it) and of the
// loss chain's drop rules, from `iptables -S -v` ("-A CHAIN ... -c PACKETS BYTES -j TARGET").
func (n *Netns) counters() (seen, dropped uint64, err error) {
	out, err := n.Command(n.iptables, "-w", "-S", "-v").Output()
	if err != nil {
		return 0, 0, fmt.Errorf("iptables -S -v in %s: %v", n.Name, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		var pkts uint64
		var target string
		for i := 2; i+1 < len(f); i++ {
			switch f[i] {
			case "-c":
				pkts, _ = strconv.ParseUint(f[i+1], 10, 64)
			case "-j":
				target = f[i+1]
			}
		}
		switch {
		case (f[1] == "INPUT" || f[1] == "OUTPUT") && target == chainLoss:
			seen += pkts
		case f[1] == chainLoss && target == "DROP":
			dropped += pkts
		}
	}
	return seen, dropped, nil
}
