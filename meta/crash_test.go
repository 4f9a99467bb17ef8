package meta_test

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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
)

const crashEnv = "EDGEHIVE_META_CRASH_CHILD"

// crashChild runs the child side of TestCrashSafety when the environment asks for it: writers put
// objects in a loop and print "ok <key> <rv>" for each committed write, until killed.
func crashChild() bool {
	path := os.Getenv(crashEnv)
	if path == "" {
		return false
	}
	s, err := meta.Open(context.Background(), meta.Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	base, _ := strconv.Atoi(os.Getenv(crashEnv + "_BASE"))
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; ; i++ {
				k := hub.Key{Namespace: "default", Kind: hub.KindPod, Name: fmt.Sprintf("p-%d-%d", g, i%50)}
				rv := strconv.Itoa(base + i)
				v := fmt.Sprintf(`{"metadata":{"name":%q,"resourceVersion":%q},"pad":%q}`, k.Name, rv, strings.Repeat("x", 200))
				if _, err := s.Put(context.Background(), k, rv, []byte(v)); err != nil {
					fmt.Fprintln(os.Stderr, "put:", err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(out, "ok %s %s\n", k, rv)
				_ = out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return true
}

// TestCrashSafety kills a writing child process with SIGKILL at a random moment, reopens its file and
// checks that every write the child saw committed is there and the file is intact.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, fmt.Sprintf("%s_BASE=%d", crashEnv, round*10_000_000))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		committed := map[string]int{}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// The kill comes at a random moment after the child's first committed write (its start-up time
		// on a loaded machine must not decide whether it writes at all).
		var kill <-chan time.Time
		killed := false
	read:
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					break read
				}
				f := strings.Fields(l)
				if len(f) != 3 || f[0] != "ok" {
					// A line cut short by the kill: only the last one can be.
					continue
				}
				rv, _ := strconv.Atoi(f[2])
				committed[f[1]] = max(committed[f[1]], rv)
				if kill == nil {
					kill = time.After(time.Duration(50+rand.IntN(400)) * time.Millisecond)
				}
			case <-kill:
				if !killed {
					killed = true
					_ = cmd.Process.Signal(syscall.SIGKILL)
				}
			}
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child exited before the kill", round)
		}
		if len(committed) == 0 {
			t.Fatalf("round %d: the child reported no write", round)
		}
		s, err := meta.Open(context.Background(), meta.Config{Path: path})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if err := s.IntegrityCheck(context.Background()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for k, rv := range committed {
			key, _ := hub.ParseKey(k)
			o, err := s.Get(context.Background(), key)
			if err != nil {
				t.Fatalf("round %d: reported write %s@%d lost: %v", round, k, rv, err)
			}
			if got, _ := strconv.Atoi(o.ResourceVersion); got < rv {
				t.Fatalf("round %d: %s holds %d, the child committed %d", round, k, got, rv)
			}
		}
		t.Logf("round %d: %d keys checked after SIGKILL", round, len(committed))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
