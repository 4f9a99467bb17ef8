package twin

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// The test binary doubles as the crashing child: with crashEnv set to a store path, TestMain runs
// crashChild instead of the tests.
const (
	crashEnv      = "EDGEHIVE_TWIN_CRASH_CHILD"
	crashRoundEnv = "EDGEHIVE_TWIN_CRASH_ROUND"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path, os.Getenv(crashRoundEnv))
		os.Exit(3) // crashChild returns only on error
	}
	goleak.VerifyTestMain(m)
}

// crashChild writes to the store until it is killed, and prints "ACK twin value" for every write that
// returned nil: single updates, and batches of three in one transaction.
func crashChild(path, round string) {
	ctx := context.Background()
	s, err := Open(ctx, path, Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return
	}
	dev := "crash/r" + round
	if err := s.PutDevice(ctx, Device{Namespace: "crash", Name: "r" + round}); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return
	}
	out := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		var cs []Change
		n := 1
		if i%5 == 4 {
			n = 3
		}
		for j := range n {
			cs = append(cs, Change{DeviceID: dev, Twin: fmt.Sprintf("w%d.%d", i, j),
				Update: Update{Source: FromDevice, Value: strconv.Itoa(i*10 + j)}})
		}
		if _, err := s.Update(ctx, cs); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return
		}
		for _, c := range cs {
			fmt.Fprintf(out, "ACK %s %s %s\n", dev, c.Twin, c.Value)
		}
		if err := out.Flush(); err != nil { // one write(2) per acknowledged transaction
			return
		}
	}
}

// Every write acknowledged by a child process is in the file after the child is killed with SIGKILL at
// a random moment, and the file passes PRAGMA integrity_check.
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	rounds := 6
	if testing.Short() {
		rounds = 2
	}
	total := 0
	for round := range rounds {
		acked := crashRound(t, path, round)
		total += len(acked)

		ctx := context.Background()
		db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{Migrations: migrations()})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		if err := db.IntegrityCheck(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		_ = db.Close()
		s, err := Open(ctx, path, Config{})
		if err != nil {
			t.Fatalf("round %d: open store: %v", round, err)
		}
		lost := 0
		for _, a := range acked {
			tw, err := s.GetTwin(ctx, a[0], a[1])
			if err != nil || tw.Reported.Value != a[2] {
				lost++
				if lost <= 5 {
					t.Errorf("round %d: acknowledged write %v lost: %+v, %v", round, a, tw, err)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if lost > 0 {
			t.Fatalf("round %d: %d of %d acknowledged writes lost", round, lost, len(acked))
		}
	}
	t.Logf("%d rounds, %d acknowledged writes checked after SIGKILL", rounds, total)
	if total == 0 {
		t.Fatal("no write was acknowledged in any round: the test checked nothing")
	}
}

// crashRound runs one child, kills it with SIGKILL at a random moment and returns the writes it
// acknowledged as (device, twin, value).
func crashRound(t *testing.T, path string, round int) [][3]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path, crashRoundEnv+"="+strconv.Itoa(round))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Even rounds die after a random number of acknowledgements, odd rounds after a random time (which
	// may fall while the child opens the file or migrates it).
	killAfterAcks, killAt := -1, time.After(time.Hour)
	if round%2 == 0 {
		killAfterAcks = 1 + rand.IntN(400)
	} else {
		killAt = time.After(time.Duration(5+rand.IntN(300)) * time.Millisecond)
	}
	timeout := time.After(60 * time.Second)
	var acked [][3]string
	killed := false
	kill := func() {
		if !killed {
			killed = true
			time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // land anywhere in a transaction
			_ = cmd.Process.Kill()                                        // SIGKILL
		}
	}
	for lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			f := strings.Fields(line)
			if len(f) == 4 && f[0] == "ACK" {
				acked = append(acked, [3]string{f[1], f[2], f[3]})
			}
			if len(acked) == killAfterAcks {
				kill()
			}
		case <-killAt:
			kill()
		case <-timeout:
			kill()
			t.Errorf("round %d: the child did not reach its kill point in time", round)
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("round %d: the child stopped by itself: %v\n%s", round, err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the child ended with %v, not by SIGKILL", round, cmd.ProcessState)
	}
	if stderr.Len() > 0 {
		t.Logf("round %d child stderr: %s", round, stderr.String())
	}
	return acked
}
