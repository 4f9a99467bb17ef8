package edgehub_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/hub/cloudhub"
	"github.com/edgehive/edgehive/hub/edgehub"
	"github.com/edgehive/edgehive/hub/internal/hubtest"
	"github.com/edgehive/edgehive/internal/testenv"
)

const killChildEnv = "EDGEHUB_KILL_CHILD_OUTBOX"

// TestOutboxKillChild is the child of TestOutboxSurvivesSIGKILL: it stores upstream messages with the
// cloud unreachable and prints the number of each one the edge hub acknowledged, until it is killed.
func TestOutboxKillChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		return // only meaningful as the child process that TestOutboxSurvivesSIGKILL starts
	}
	pki := hubtest.NewPKI(t)
	dead := fmt.Sprintf("wss://127.0.0.1:%d%s", testenv.FreePort(t), cloudhub.DefaultPath)
	edge := hubtest.StartEdge(t, edgehub.Config{URL: dead, TLS: pki.NodeTLS(t, "edge-1"), OutboxPath: path}, nil)
	for i := 0; ; i++ {
		key := hub.Key{Namespace: "default", Kind: hub.KindPodStatus, Name: "pod-" + strconv.Itoa(i)}
		if err := edge.Send(context.Background(), hub.OpUpdate, key.String(), "", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("stored %d\n", i)
	}
}

// TestOutboxSurvivesSIGKILL kills (SIGKILL) a child process that is writing to its outbox, then starts
// an edge hub on the same file: every message the child had acknowledged reaches the cloud.
func TestOutboxSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		return // this process is the child the parent test started; the child's own test runs instead
	}
	path := t.TempDir() + "/outbox.db"
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := -1
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() && acked < 200 && time.Now().Before(deadline) {
		if n, ok := strings.CutPrefix(sc.Text(), "stored "); ok {
			acked, _ = strconv.Atoi(n)
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if acked < 200 {
		t.Fatalf("the child acknowledged only %d messages", acked+1)
	}

	pki := hubtest.NewPKI(t)
	node := hub.NodeName("edge-1")
	cloud := hubtest.StartCloud(t, pki, cloudhub.Config{Bindings: bindAll(node), RatePerNode: 1e6})
	edge := hubtest.StartEdge(t, edgehub.Config{URL: cloud.URL, TLS: pki.NodeTLS(t, node), OutboxPath: path}, nil)
	hubtest.Wait(t, 20*time.Second, "every acknowledged message delivered", func() error {
		if st := edge.Hub.Stats(); st.Acks < uint64(acked+1) || st.Outbox.Rows != 0 {
			return fmt.Errorf("%d acks, outbox holds %d", st.Acks, st.Outbox.Rows)
		}
		return nil
	})
	got := map[string]bool{}
	for _, m := range cloud.Ctl.Messages() {
		got[string(m.Content.([]byte))] = true
	}
	for i := 0; i <= acked; i++ {
		if !got[strconv.Itoa(i)] {
			t.Fatalf("message %d was acknowledged by the killed edge but never delivered", i)
		}
	}
	t.Logf("child killed after %d acknowledged messages; %d delivered after the restart", acked+1, len(got))
}
