package certs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTokens(t *testing.T, path string) *FileTokenStore {
	t.Helper()
	s, err := OpenFileTokenStore(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hashOf(i int) [sha256.Size]byte { return sha256.Sum256(fmt.Appendf(nil, "secret-%d", i)) }

func TestFileTokenStore(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := openTokens(t, path)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created the file: %v", err)
	}
	if _, ok, err := s.Lookup(ctx, hashOf(1)); ok || err != nil {
		t.Fatalf("Lookup in an empty store: %v, %v", ok, err)
	}
	exp := time.Now().Add(time.Hour).Round(time.Second).UTC()
	for i := range 3 {
		if err := s.Put(ctx, StoredToken{SecretHash: hashOf(i), Expires: exp}); err != nil {
			t.Fatal(err)
		}
	}
	// Put replaces a record of the same hash.
	later := exp.Add(time.Hour)
	if err := s.Put(ctx, StoredToken{SecretHash: hashOf(1), Expires: later}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Len(ctx); n != 3 || err != nil {
		t.Fatalf("Len = %d, %v; want 3", n, err)
	}
	if st, ok, err := s.Lookup(ctx, hashOf(1)); !ok || err != nil || st.SecretHash != hashOf(1) || !st.Expires.Equal(later) {
		t.Fatalf("Lookup = %+v, %v, %v", st, ok, err)
	}
	// The file: mode 0600, hashes only, no temporary or stray file beside it but the lock.
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode: %v, %v", fi, err)
	}
	b, _ := os.ReadFile(path)
	if bytes.Contains(b, []byte("secret-")) || !bytes.Contains(b, []byte(`"secretHash"`)) {
		t.Fatalf("file content:\n%s", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Fatalf("directory holds %d entries, want the file and its lock", len(entries))
	}
	// Revoke.
	if err := s.Delete(ctx, hashOf(0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, hashOf(99)); err != nil {
		t.Fatalf("Delete of an unknown token: %v", err)
	}
	if _, ok, _ := s.Lookup(ctx, hashOf(0)); ok {
		t.Fatal("deleted token still found")
	}
	// Persist across reopen.
	again := openTokens(t, path)
	for i, want := range []bool{false, true, true} {
		if _, ok, err := again.Lookup(ctx, hashOf(i)); ok != want || err != nil {
			t.Errorf("reopened: Lookup(%d) = %v, %v; want %v", i, ok, err, want)
		}
	}
	// A canceled context does nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Put(cctx, StoredToken{SecretHash: hashOf(7), Expires: exp}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context: %v", err)
	}
}

func TestFileTokenStoreExpiry(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokens.json")
	s := openTokens(t, path)
	a, clk := newAuthority(t)
	a.cfg.Tokens = s
	tok, err := a.IssueToken(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckToken(ctx, tok.String()); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	// Another process's view (a second store on the file) accepts it too.
	b := *a
	b.cfg.Tokens = openTokens(t, path)
	if _, err := b.CheckToken(ctx, tok.String()); err != nil {
		t.Fatalf("through a second store: %v", err)
	}
	clk.Add(time.Minute)
	if _, err := a.CheckToken(ctx, tok.String()); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token: %v, want ErrTokenExpired", err)
	}
	// The Authority deleted it; a revoked one is unknown.
	if _, err := a.CheckToken(ctx, tok.String()); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("after expiry: %v, want ErrTokenUnknown", err)
	}
	tok2, _ := a.IssueToken(ctx, time.Hour)
	if err := a.DeleteToken(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckToken(ctx, tok2.String()); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("revoked token: %v, want ErrTokenUnknown", err)
	}

	// Put prunes what expired by its time; PruneExpired by the time given.
	now := time.Now()
	if err := s.Put(ctx, StoredToken{SecretHash: hashOf(1), Expires: now.Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lookup(ctx, hashOf(1)); !ok {
		t.Fatal("Lookup hides an expired record (expiry is the Authority's business)")
	}
	s.Put(ctx, StoredToken{SecretHash: hashOf(2), Expires: now.Add(time.Hour)})
	s.Put(ctx, StoredToken{SecretHash: hashOf(3), Expires: now.Add(2 * time.Hour)})
	if _, ok, _ := s.Lookup(ctx, hashOf(1)); ok {
		t.Fatal("Put kept an expired record")
	}
	if n, err := s.PruneExpired(ctx, now.Add(90*time.Minute)); n != 1 || err != nil {
		t.Fatalf("PruneExpired = %d, %v; want 1", n, err)
	}
	if n, _ := s.Len(ctx); n != 1 {
		t.Fatalf("%d records left, want 1", n)
	}
}

// TestFileTokenStoreConcurrent: stores on one file (as two processes would have), written at once,
// lose no record.
func TestFileTokenStoreConcurrent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tokens.json")
	const stores, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, stores*each)
	for g := range stores {
		s := openTokens(t, path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- s.Put(ctx, StoredToken{SecretHash: hashOf(g*each + i), Expires: time.Now().Add(time.Hour)})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := openTokens(t, path)
	if n, err := s.Len(ctx); n != stores*each || err != nil {
		t.Fatalf("Len = %d, %v; want %d", n, err, stores*each)
	}
}

// TestFileTokenStoreCorrupt: a file that does not decode is a clear error for every operation and is
// never overwritten.
func TestFileTokenStoreCorrupt(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"truncated": `[{"secretHash":"` + strings.Repeat("ab", 32) + `","expires":"2030-01-`,
		"not json":  "hello\n",
		"object":    `{"secretHash":"x"}`,
		"bad hash":  `[{"secretHash":"XYZ","expires":"2030-01-01T00:00:00Z"}]`,
		"extra":     `[] []`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenFileTokenStore(ctx, path); !errors.Is(err, ErrTokenFileCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Open = %v, want ErrTokenFileCorrupt naming the file", name, err)
		}
		s := &FileTokenStore{path: path, now: time.Now} // as if it went bad after Open
		if err := s.Put(ctx, StoredToken{SecretHash: hashOf(1), Expires: time.Now().Add(time.Hour)}); !errors.Is(err, ErrTokenFileCorrupt) {
			t.Errorf("%s: Put = %v", name, err)
		}
		if _, _, err := s.Lookup(ctx, hashOf(1)); !errors.Is(err, ErrTokenFileCorrupt) {
			t.Errorf("%s: Lookup = %v", name, err)
		}
		if err := s.Delete(ctx, hashOf(1)); !errors.Is(err, ErrTokenFileCorrupt) {
			t.Errorf("%s: Delete = %v", name, err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("%s: the file changed to %q", name, b)
		}
	}
	if _, err := OpenFileTokenStore(ctx, filepath.Join(dir, "no-such-dir", "tokens.json")); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	if _, err := OpenFileTokenStore(ctx, ""); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Open of an empty path: %v", err)
	}
	// An empty file is an empty store (the operator may create it).
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, nil, 0o600)
	if n, err := openTokens(t, empty).Len(ctx); n != 0 || err != nil {
		t.Errorf("empty file: %d, %v", n, err)
	}
}

// FuzzDecodeTokenFile: the token file decoder never panics, and what it accepts encodes and decodes back
// to the same records. Seeds: testdata/fuzz/FuzzDecodeTokenFile and the files below.
func FuzzDecodeTokenFile(f *testing.F) {
	good, _ := encodeTokenFile([]tokenRecord{
		{SecretHash: hashOf(1), Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
		{SecretHash: hashOf(2), Expires: time.Date(2031, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))},
	})
	for _, s := range [][]byte{good, nil, []byte("[]"), []byte("null"), []byte(`[{}]`), []byte(`[{"secretHash":"` +
		strings.Repeat("0", 64) + `","expires":"2030-01-01T00:00:00Z","extra":1}]`), good[:len(good)/2],
		[]byte(`[{"secretHash":"` + strings.Repeat("0", 64) + `","expires":"9999-12-31T23:59:59-23:00"}]`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodeTokenFile(b)
		if err != nil {
			return
		}
		out, err := encodeTokenFile(recs)
		if err != nil {
			t.Fatalf("encode of decoded %q: %v", b, err)
		}
		back, err := decodeTokenFile(out)
		if err != nil || len(back) != len(recs) {
			t.Fatalf("round trip of %q: %v, %d records, want %d", b, err, len(back), len(recs))
		}
		for i := range recs {
			if back[i].SecretHash != recs[i].SecretHash || !back[i].Expires.Equal(recs[i].Expires) {
				t.Fatalf("round trip of %q: record %d %+v, then %+v", b, i, recs[i], back[i])
			}
		}
	})
}
