package certs

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoadOrCreateCAConcurrent: goroutines creating the same CA directory at once all end up with the
// CA that is on disk, the same for all.
func TestLoadOrCreateCAConcurrent(t *testing.T) {
	const rounds, creators = 20, 8
	for round := range rounds {
		dir := filepath.Join(t.TempDir(), "ca")
		var (
			wg     sync.WaitGroup
			start  = make(chan struct{})
			hashes [creators]string
			errs   [creators]error
		)
		for i := range creators {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ca, err := LoadOrCreateCA(dir, CAConfig{})
				if err == nil {
					hashes[i] = ca.Hash()
				}
				errs[i] = err
			}()
		}
		close(start)
		wg.Wait()
		checkSameCA(t, round, dir, hashes[:], errs[:])
	}
}

// childCADirEnv makes the test binary a child of TestLoadOrCreateCAProcesses: it creates the CA in that
// directory (at the time in childCAStartEnv) and prints its hash.
const (
	childCADirEnv   = "EDGEHIVE_CERTS_TEST_CA_DIR"
	childCAStartEnv = "EDGEHIVE_CERTS_TEST_CA_START"
)

// TestLoadOrCreateCAProcesses: processes (this test binary, re-executed) creating the same CA directory
// at once all end up with the same CA, the one on disk.
func TestLoadOrCreateCAProcesses(t *testing.T) {
	if dir := os.Getenv(childCADirEnv); dir != "" {
		// The child: wait for the common start time, create, report.
		if ns, err := strconv.ParseInt(os.Getenv(childCAStartEnv), 10, 64); err == nil {
			time.Sleep(time.Until(time.Unix(0, ns)))
		}
		ca, err := LoadOrCreateCA(dir, CAConfig{})
		if err != nil {
			os.Stdout.WriteString("CAERR " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n")
			return
		}
		os.Stdout.WriteString("CAHASH " + ca.Hash() + "\n")
		return
	}
	if testing.Short() {
		t.Skip("starts child processes; skipped under -short")
	}
	const rounds, creators = 5, 4
	for round := range rounds {
		dir := filepath.Join(t.TempDir(), "ca")
		startAt := time.Now().Add(300 * time.Millisecond).UnixNano()
		cmds := make([]*exec.Cmd, creators)
		outs := make([]*bytes.Buffer, creators)
		for i := range cmds {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestLoadOrCreateCAProcesses$", "-test.count=1")
			cmd.Env = append(os.Environ(), childCADirEnv+"="+dir, childCAStartEnv+"="+strconv.FormatInt(startAt, 10))
			outs[i] = &bytes.Buffer{}
			cmd.Stdout, cmd.Stderr = outs[i], outs[i]
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[i] = cmd
		}
		hashes := make([]string, creators)
		errs := make([]error, creators)
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("child %d: %v\n%s", i, err, outs[i])
			}
			sc := bufio.NewScanner(outs[i])
			for sc.Scan() {
				if h, ok := strings.CutPrefix(sc.Text(), "CAHASH "); ok {
					hashes[i] = h
				}
				if e, ok := strings.CutPrefix(sc.Text(), "CAERR "); ok {
					errs[i] = errString(e)
				}
			}
			if hashes[i] == "" && errs[i] == nil {
				t.Fatalf("child %d reported nothing:\n%s", i, outs[i])
			}
		}
		checkSameCA(t, round, dir, hashes, errs)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// checkSameCA fails unless every creator succeeded with the CA that dir holds, and dir holds only the
// two files.
func checkSameCA(t *testing.T, round int, dir string, hashes []string, errs []error) {
	t.Helper()
	onDisk, err := LoadCA(dir)
	if err != nil {
		t.Fatalf("round %d: the CA on disk: %v", round, err)
	}
	for i := range hashes {
		if errs[i] != nil {
			t.Fatalf("round %d: creator %d: %v", round, i, errs[i])
		}
		if hashes[i] != onDisk.Hash() {
			t.Fatalf("round %d: creator %d got CA %.12s…, the disk holds %.12s…", round, i, hashes[i], onDisk.Hash())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("round %d: CA directory holds %v, want only %s and %s", round, names, CACertFile, CAKeyFile)
	}
}
