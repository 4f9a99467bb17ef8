package edgehub_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/certs"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
	"github.com/edgehive/edgehive/internal/testenv"
)

// The edge hub has no dial hook and the cloud hub no listener hook, so the sockets of a hub in this
// process belong to the root network namespace. The edge therefore runs in a child process (this test
// binary, TestPacketLossEdgeChild) started inside the test's namespace with `ip netns exec`; the cloud
// listens on the root side of the veth pair.
const packetLossChildEnv = "EDGEHUB_PACKETLOSS_CHILD"

// Settings of TestPacketLoss.
const (
	plKeys, plVersions = 1000, 10
	plLoss             = 0.07                    // drop probability of each packet, both directions
	plKeepalive        = time.Second             // both ends: half-open after 2 s of silence
	plBlackholes       = 2                       // times the link drops everything
	plBlackholeFor     = 3500 * time.Millisecond // > 2 keepalive intervals: forces a redial
	plRoundEvery       = 700 * time.Millisecond  // one version of every key: the stream lasts ~7 s, over the blackholes
)

// packetLossChild is what the parent hands the child: where to dial and its TLS material.
type packetLossChild struct {
	URL, ServerName         string
	CAPEM, ChainPEM, KeyPEM []byte
	Keys, Versions          int
}

// packetLossResult is what the child prints at the end, on a line "result <JSON>".
type packetLossResult struct {
	Held    map[string]string
	History map[string][]string
	Dups    int
	Stats   edgehub.Stats
}

// TestPacketLossEdgeChild is the edge of TestPacketLoss, run inside the namespace: it prints "complete"
// once it holds the newest version of every key, and its history ("result …") when its stdin closes.
func TestPacketLossEdgeChild(t *testing.T) {
	path := os.Getenv(packetLossChildEnv)
	if path == "" {
		return // only meaningful as the child process that TestPacketLoss starts
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in packetLossChild
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	cas, err := certs.ParseCertsPEM(in.CAPEM)
	if err != nil || len(cas) == 0 {
		t.Fatalf("CA PEM: %v", err)
	}
	key, err := certs.ParseKeyPEM(in.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := certs.NewTLSCertificate(in.ChainPEM, key)
	if err != nil {
		t.Fatal(err)
	}
	edge := hubtest.StartEdge(t, edgehub.Config{
		URL:               in.URL,
		TLS:               certs.ClientTLSConfig(cas[0], in.ServerName, certs.NewCertHolder(cert)),
		KeepaliveInterval: plKeepalive,
		HandshakeTimeout:  3 * time.Second,
		WriteTimeout:      3 * time.Second,
	}, nil)

	eof := make(chan struct{})
	go func() { // the parent closes stdin when it has seen enough
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	newest := strconv.Itoa(in.Versions)
	complete := false
	deadline := time.After(2 * time.Minute) // an orphan does not outlive its parent by much
	for done := false; !done; {
		select {
		case <-eof:
			done = true
		case <-deadline:
			t.Error("the parent never closed stdin")
			done = true
		case <-time.After(20 * time.Millisecond):
			if complete {
				continue
			}
			held, n := edge.Meta.Held(), 0
			for k := range in.Keys {
				if held[hubtest.PodKey(k)] == newest {
					n++
				}
			}
			if n == in.Keys {
				complete = true
				fmt.Println("complete")
			}
		}
	}
	edge.Hive.Stop()
	res := packetLossResult{Held: map[string]string{}, History: map[string][]string{}, Dups: edge.Meta.Dups(), Stats: edge.Hub.Stats()}
	for k, v := range edge.Meta.Held() {
		res.Held[k.String()] = v
	}
	for k, h := range edge.Meta.History() {
		res.History[k.String()] = h
	}
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("result %s\n", out)
}

// TestPacketLoss streams 10,000 updates over 1,000 keys to an edge in another network namespace, across
// a veth pair that drops 7 % of the packets in each direction (iptables statistic) and twice drops
// everything for 3.5 s (a DROP rule, added then deleted): keepalive finds the dead connection, the edge
// redials, and it ends with the newest version of every key, each key's versions applied in increasing
// order, none twice.
func TestPacketLoss(t *testing.T) {
	if os.Getenv(packetLossChildEnv) != "" {
		return // this process is the child the parent test started; the child's own test runs instead
	}
	start := time.Now()
	ns := testenv.NewNetns(t)
	ctx := context.Background()
	node := hub.NodeName("edge-1")

	pki := hubtest.NewPKI(t)
	srv, err := pki.Auth.IssueServerCert(certs.ServerCertConfig{IPAddresses: []net.IP{net.ParseIP(ns.HostIP)}})
	if err != nil {
		t.Fatal(err)
	}
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{
		Addr:              net.JoinHostPort(ns.HostIP, "0"),
		TLS:               certs.ServerTLSConfig(pki.CA.Certificate(), srv, pki.Deny),
		ResendInitial:     300 * time.Millisecond,
		ResendMax:         time.Second,
		KeepaliveInterval: plKeepalive,
		WriteTimeout:      3 * time.Second,
	})

	// The node's certificate, as a join makes it, for the child.
	tok, err := pki.Auth.IssueToken(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	key, err := certs.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := certs.NewNodeCSR(node, key)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := pki.Auth.SignNodeCSR(ctx, csr, tok.String())
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := certs.EncodeKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(packetLossChild{
		URL: cloud.URL, ServerName: ns.HostIP,
		CAPEM: certs.EncodeCertPEM(pki.CA.Certificate().Raw), ChainPEM: nc.ChainPEM, KeyPEM: keyPEM,
		Keys: plKeys, Versions: plVersions,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/child.json"
	if err := os.WriteFile(path, in, 0o600); err != nil {
		t.Fatal(err)
	}

	ns.SetLoss(t, plLoss)
	cmd := ns.Command(os.Args[0], "-test.run=^TestPacketLossEdgeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), packetLossChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child's stdout: "complete", then "result …" when its stdin closes. The pipe is read to its end
	// before cmd.Wait, which would close it under the reader.
	complete := make(chan struct{})
	scanned := make(chan struct{})
	var result string
	var output strings.Builder // other lines (the test framework's)
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "complete":
				close(complete)
			case strings.HasPrefix(line, "result "):
				result = strings.TrimPrefix(line, "result ")
			default:
				output.WriteString(line + "\n")
			}
		}
	}()
	childDone := false
	stopChild := func() {
		if childDone {
			return
		}
		childDone = true
		_ = stdin.Close()
		select {
		case <-scanned:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-scanned
			t.Errorf("edge child did not stop")
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("edge child: %v\nstdout:\n%s\nstderr:\n%s", err, output.String(), stderr.String())
		}
	}
	defer stopChild()

	hubtest.Wait(t, 15*time.Second, "the edge connected", func() error {
		if cloud.Hub.Stats().ConnectedNodes == 0 {
			return fmt.Errorf("not connected")
		}
		return nil
	})
	sent := make(chan error, 1)
	go func() { // the stream, while the link drops packets and, twice, everything
		for v := 1; v <= plVersions; v++ {
			for k := range plKeys {
				content := []byte(`{"v":` + strconv.Itoa(v) + `}`)
				if err := cloud.Send(ctx, node, hub.OpUpdate, hubtest.PodKey(k), strconv.Itoa(v), content); err != nil {
					sent <- err
					return
				}
			}
			time.Sleep(plRoundEvery)
		}
		sent <- nil
	}()
	var connects uint64
	for range plBlackholes { // the connection hangs: nothing is refused or reset
		hubtest.Wait(t, 15*time.Second, "a new connection of the edge", func() error {
			if st := cloud.Hub.Stats(); st.Connects <= connects || st.ConnectedNodes == 0 {
				return fmt.Errorf("%d connects, %d connected", st.Connects, st.ConnectedNodes)
			}
			return nil
		})
		connects = cloud.Hub.Stats().Connects
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		ns.Blackhole(t)
		time.Sleep(plBlackholeFor)
		ns.Restore(t)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}

	hubtest.Wait(t, 25*time.Second, "every key at its newest version on the edge, nothing pending", func() error {
		select {
		case <-complete:
		default:
			return fmt.Errorf("the edge does not hold every key's newest version yet")
		}
		st := cloud.Hub.Stats()
		if st.PendingFrames != 0 {
			return fmt.Errorf("%d frames pending", st.PendingFrames)
		}
		if st.ConnectedNodes != 1 || st.Connects < 1+plBlackholes {
			return fmt.Errorf("%d connects, %d connected: the edge has not reconnected after the last blackhole", st.Connects, st.ConnectedNodes)
		}
		return nil
	})
	packets, dropped := ns.Loss(t)
	stopChild()
	var res packetLossResult
	if result == "" {
		t.Fatalf("the edge child printed no result\nstdout:\n%s\nstderr:\n%s", output.String(), stderr.String())
	}
	if err := json.Unmarshal([]byte(result), &res); err != nil {
		t.Fatal(err)
	}

	newest := strconv.Itoa(plVersions)
	for k := range plKeys {
		if rv := res.Held[hubtest.PodKey(k).String()]; rv != newest {
			t.Errorf("key %d at %q, want %q", k, rv, newest)
		}
	}
	applied := 0
	for key, h := range res.History {
		prev := 0
		for _, rv := range h {
			v, _ := strconv.Atoi(rv)
			if v <= prev {
				t.Fatalf("%s applied out of order or twice: %s", key, strings.Join(h, ","))
			}
			prev = v
		}
		applied += len(h)
	}
	st := cloud.Hub.Stats()
	rate := 0.0
	if packets > 0 {
		rate = float64(dropped) / float64(packets)
	}
	t.Logf("loss %.1f%% (%d of %d packets dropped, probability %.0f%%), blackholes %d of %v, edge connects %d (dial errors %d), cloud connects %d, applied %d of %d updates, dups acked without applying %d, resends %d, duration %v",
		100*rate, dropped, packets, 100*plLoss, plBlackholes, plBlackholeFor, res.Stats.Connects, res.Stats.DialErrors, st.Connects,
		applied, plKeys*plVersions, res.Dups, st.Resends, time.Since(start).Round(time.Millisecond))
	if dropped == 0 || rate < plLoss/2 || rate > 2*plLoss {
		t.Errorf("measured loss %.1f%% (%d of %d packets), want about %.0f%%", 100*rate, dropped, packets, 100*plLoss)
	}
	if res.Stats.Connects < 1+plBlackholes {
		t.Errorf("edge connected %d times through %d blackholes: keepalive did not drop the dead connections\nedge stderr:\n%s", res.Stats.Connects, plBlackholes, stderr.String())
	}
}
