package meta_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/meta"
	"github.com/edgehive/edgehive/meta/metatest"
)

func TestMain(m *testing.M) {
	if crashChild() {
		return
	}
	goleak.VerifyTestMain(m)
}

func openStore(t testing.TB, cfg meta.Config) *meta.SQLiteStore {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "meta.db")
	}
	s, err := meta.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestSQLiteStoreConformance(t *testing.T) {
	metatest.RunStoreConformance(t, func(t *testing.T) meta.Store { return openStore(t, meta.Config{}) })
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []meta.Config{
		{},
		{Path: "x", MaxBatch: -1},
		{Path: "x", Synchronous: 7},
		{Path: "x", ExtraKinds: []hub.Kind{"Bad_Kind"}},
	} {
		if err := c.Validate(); !errors.Is(err, meta.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	if err := (meta.Config{Path: "x", ExtraKinds: []hub.Kind{"gizmo"}}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		held, in string
		want     meta.Order
	}{
		{"5", "5", meta.Same},
		{"5", "6", meta.Newer},
		{"10", "9", meta.Older},
		{"9", "10", meta.Newer},
		{"007", "7", meta.Same},
		{"abc", "abd", meta.Newer},
		{"abd", "abc", meta.Newer},
		{"", "5", meta.Newer},
		{"5", "", meta.Newer},
		{"5", "x", meta.Newer},
		{"18446744073709551615", "1", meta.Older},
		{"18446744073709551616", "1", meta.Newer}, // overflows: not a number
	} {
		if got := meta.CompareVersions(tc.held, tc.in); got != tc.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", tc.held, tc.in, got, tc.want)
		}
	}
}

func pod(name, rv string) []byte {
	return []byte(`{"metadata":{"name":"` + name + `","namespace":"default","resourceVersion":"` + rv + `"}}`)
}

func podKey(name string) hub.Key { return hub.Key{Namespace: "default", Kind: hub.KindPod, Name: name} }

func TestSlowWatcherDropped(t *testing.T) {
	s := openStore(t, meta.Config{WatchBuffer: 4})
	ctx := context.Background()
	slow, err := s.Watch(ctx, meta.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fast, err := s.Watch(ctx, meta.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()
	got := make(chan int)
	go func() {
		n := 0
		for range fast.Events() {
			n++
			if n == 10 {
				break
			}
		}
		got <- n
	}()
	for i := range 10 {
		if _, err := s.Put(ctx, podKey("p"), strconv.Itoa(i+1), pod("p", strconv.Itoa(i+1))); err != nil {
			t.Fatal(err) // the writer must not block on the slow watcher
		}
	}
	if n := <-got; n != 10 {
		t.Fatalf("fast watcher got %d events", n)
	}
	n := 0
	for range slow.Events() {
		n++
	}
	if n != 4 || !errors.Is(slow.Err(), meta.ErrWatcherTooSlow) {
		t.Fatalf("slow watcher: %d events then %v; want 4 then ErrWatcherTooSlow", n, slow.Err())
	}
}

func TestWatchExpired(t *testing.T) {
	s := openStore(t, meta.Config{WatchHistory: 3})
	ctx := context.Background()
	start := s.Revision()
	for i := range 5 {
		if _, err := s.Put(ctx, podKey("p"), strconv.Itoa(i+1), pod("p", strconv.Itoa(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Watch(ctx, meta.WatchOptions{Since: start}); !errors.Is(err, meta.ErrExpired) {
		t.Fatalf("watch from a compacted revision: %v", err)
	}
	w, err := s.Watch(ctx, meta.WatchOptions{Since: s.Revision() - 3})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for want := s.Revision() - 2; want <= s.Revision(); want++ {
		if ev := <-w.Events(); ev.Object.Revision != want {
			t.Fatalf("replayed revision %d, want %d", ev.Object.Revision, want)
		}
	}
}

func TestReopenKeepsRevision(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s := openStore(t, meta.Config{Path: path})
	ctx := context.Background()
	if s.Revision() != 1 {
		t.Fatalf("new store at revision %d, want 1", s.Revision())
	}
	if _, err := s.Put(ctx, podKey("a"), "1", pod("a", "1")); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Delete(ctx, podKey("a"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, meta.Config{Path: path})
	if s2.Revision() != rev {
		t.Fatalf("reopened at revision %d, want %d (deletes count too)", s2.Revision(), rev)
	}
	if _, err := s2.Watch(ctx, meta.WatchOptions{Since: rev - 1}); !errors.Is(err, meta.ErrExpired) {
		t.Fatalf("watch into the history of a previous run: %v", err)
	}
	if r, err := s2.Put(ctx, podKey("a"), "2", pod("a", "2")); err != nil || r != rev+1 {
		t.Fatalf("Put after reopen = %d, %v; want %d", r, err, rev+1)
	}
}

// TestBatching holds the first commit so that concurrent writers queue up, then checks that they were
// committed together and that none returned before its commit.
func TestBatching(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	first := true
	s := openStore(t, meta.Config{BeforeCommit: func(n int) {
		mu.Lock()
		sizes = append(sizes, n)
		hold := first
		first = false
		mu.Unlock()
		if hold {
			<-release
		}
	}})
	ctx := context.Background()
	var done atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Put(ctx, podKey(fmt.Sprintf("p%d", i)), "1", pod("p", "1")); err != nil {
				t.Error(err)
			}
			done.Add(1)
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if n := done.Load(); n != 0 {
		t.Fatalf("%d writes returned while the commit was held", n)
	}
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) >= 50 {
		t.Fatalf("50 concurrent writes took %d transactions: %v", len(sizes), sizes)
	}
	t.Logf("transactions: %v", sizes)
}

func TestWriteContext(t *testing.T) {
	release := make(chan struct{})
	s := openStore(t, meta.Config{BeforeCommit: func(int) { <-release }})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.Put(ctx, podKey("a"), "1", pod("a", "1"))
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put with an expiring context while the commit is held: %v", err)
	}
}

func TestMemStoreConformance(t *testing.T) {
	metatest.RunStoreConformance(t, func(t *testing.T) meta.Store { return meta.NewMemStore() })
}
