package testenv

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestNetns carries TCP both ways across the link (a listener inside the namespace, a dial from inside
// it), through random loss and a blackhole, and checks that nothing is left afterwards.
func TestNetns(t *testing.T) {
	var n *Netns
	t.Run("link", func(t *testing.T) {
		n = NewNetns(t)
		t.Logf("namespace %s, %s %s <-> %s %s", n.Name, n.HostIf, n.HostIP, n.NSIf, n.NSIP)

		// A listener inside the namespace, dialed from the root namespace.
		inner, err := n.Listen("tcp", n.NSIP+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer inner.Close()
		go echo(inner)
		roundTrip(t, func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", inner.Addr().String())
		}, 1<<10)

		// A listener in the root namespace, dialed from inside the namespace.
		outer, err := net.Listen("tcp", n.HostIP+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer outer.Close()
		go echo(outer)
		dialIn := func(ctx context.Context) (net.Conn, error) { return n.DialContext(ctx, "tcp", outer.Addr().String()) }
		roundTrip(t, dialIn, 1<<10)

		// The namespace's loopback is up and not subject to the loss.
		if err := n.Do(func() error {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			return l.Close()
		}); err != nil {
			t.Fatal(err)
		}

		// Random loss: TCP still delivers, and the rules count drops.
		n.SetLoss(t, 0.2)
		roundTrip(t, dialIn, 1<<20)
		packets, dropped := n.Loss(t)
		t.Logf("loss 20%%: %d packets, %d dropped", packets, dropped)
		if dropped == 0 || packets < 50 {
			t.Errorf("%d packets, %d dropped: the loss rules did not act", packets, dropped)
		}
		n.SetLoss(t, 0) // keeps the count of the rules it removes
		_, d0 := n.Loss(t)
		roundTrip(t, dialIn, 64<<10)
		if _, d1 := n.Loss(t); d0 < dropped || d1 != d0 {
			t.Errorf("drops: %d with loss, %d after SetLoss(0), %d after more traffic", dropped, d0, d1)
		}

		// A blackhole: a dial times out; after Restore it works again.
		n.Blackhole(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		c, err := dialIn(ctx)
		cancel()
		if err == nil {
			c.Close()
			t.Fatal("dial through the blackhole succeeded")
		}
		n.Restore(t)
		roundTrip(t, dialIn, 1<<10)
	})
	if n == nil || n.Name == "" {
		return
	}
	if _, err := os.Stat("/run/netns/" + n.Name); !os.IsNotExist(err) {
		t.Errorf("namespace %s left behind: %v", n.Name, err)
	}
	if _, err := net.InterfaceByName(n.HostIf); err == nil {
		t.Errorf("veth %s left behind", n.HostIf)
	}
	if out, err := exec.Command(n.ip, "-o", "link", "show", "dev", n.HostIf).CombinedOutput(); err == nil {
		t.Errorf("veth %s left behind: %s", n.HostIf, out)
	}
}

// TestNetnsUnique gives parallel instances distinct names and subnets.
func TestNetnsUnique(t *testing.T) {
	a, b := NewNetns(t), NewNetns(t)
	if a.Name == b.Name || a.Subnet == b.Subnet || a.HostIf == b.HostIf {
		t.Fatalf("two instances share: %+v and %+v", a, b)
	}
}

func echo(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

// roundTrip sends size bytes through an echo server and checks they come back.
func roundTrip(t *testing.T, dial func(context.Context) (net.Conn, error), size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dial(ctx)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	want := bytes.Repeat([]byte("edgehive"), size/8)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(want)
		errc <- err
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("echo differs")
	}
}
