package certs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// MaxTokenFileBytes bounds a FileTokenStore's file: a larger file is refused (ErrTokenFileCorrupt)
// before it is decoded. A record takes about 120 bytes, so the bound holds some 35,000 live tokens.
const MaxTokenFileBytes = 4 << 20

// FileTokenStore is a TokenStore kept in one JSON file, so that a token issued by one process (such as
// `cloud token`) is accepted by another (the running cloud). It keeps only the SHA-256 of each secret
// and its expiry:
//
//	[
//	  {"secretHash": "<64 lowercase hex digits>", "expires": "2030-01-02T15:04:05Z"}
//	]
//
// Every operation reads the file again (joins are rare) under an exclusive lock: a mutex within the
// process, and on Unix an flock(2) of "<path>.lock" between processes. A write goes to a synced
// temporary file (mode 0600) renamed over the file, then the directory is synced: a crash leaves the
// old file or the new one, never a mix. Put prunes the records expired at the time of the Put; Lookup
// returns expired records like any other (the Authority decides).
//
// A file that does not decode is never overwritten: every operation fails with ErrTokenFileCorrupt
// (naming the file) until the operator repairs or removes it, so nothing in it is lost. A missing file
// is an empty store; the file is created by the first Put. A FileTokenStore holds no open file between
// operations and needs no Close; it is safe for concurrent use.
type FileTokenStore struct {
	path string
	now  func() time.Time
	mu   sync.Mutex // serialises this value's operations; the file lock serialises processes
}

var _ TokenStore = (*FileTokenStore)(nil)

// OpenFileTokenStore returns the store kept in the file at path, after checking that the file, if
// present, decodes (ErrTokenFileCorrupt otherwise) and that its directory exists.
func OpenFileTokenStore(ctx context.Context, path string) (*FileTokenStore, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty token file path", ErrInvalidConfig)
	}
	st, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("certs: token file directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("certs: token file directory %s is not a directory", filepath.Dir(path))
	}
	s := &FileTokenStore{path: path, now: time.Now}
	if err := s.locked(ctx, func([]tokenRecord) ([]tokenRecord, bool) { return nil, false }); err != nil {
		return nil, err
	}
	return s, nil
}

// Path returns the file's path.
func (s *FileTokenStore) Path() string { return s.path }

// Put implements TokenStore: it records t, replacing a record of the same hash, and forgets the
// records expired at the time of the call.
func (s *FileTokenStore) Put(ctx context.Context, t StoredToken) error {
	now := s.now()
	return s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		kept := recs[:0]
		for _, r := range recs {
			if r.SecretHash != t.SecretHash && now.Before(r.Expires) {
				kept = append(kept, r)
			}
		}
		return append(kept, tokenRecord(t)), true
	})
}

// Lookup implements TokenStore, comparing h with every record in constant time, with no early exit.
func (s *FileTokenStore) Lookup(ctx context.Context, h [sha256.Size]byte) (StoredToken, bool, error) {
	var found StoredToken
	ok := false
	err := s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		idx := -1
		for i := range recs {
			eq := subtle.ConstantTimeCompare(recs[i].SecretHash[:], h[:])
			idx = subtle.ConstantTimeSelect(eq, i, idx)
		}
		if idx >= 0 {
			found, ok = StoredToken(recs[idx]), true
		}
		return recs, false
	})
	return found, ok, err
}

// Delete implements TokenStore.
func (s *FileTokenStore) Delete(ctx context.Context, h [sha256.Size]byte) error {
	return s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		kept := recs[:0]
		for _, r := range recs {
			if r.SecretHash != h {
				kept = append(kept, r)
			}
		}
		return kept, len(kept) != len(recs)
	})
}

// PruneExpired forgets the tokens expired at now, and returns how many it forgot.
func (s *FileTokenStore) PruneExpired(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		kept := recs[:0]
		for _, r := range recs {
			if now.Before(r.Expires) {
				kept = append(kept, r)
			}
		}
		n = len(recs) - len(kept)
		return kept, n > 0
	})
	return n, err
}

// Len returns the number of stored tokens, expired ones included.
func (s *FileTokenStore) Len(ctx context.Context) (int, error) {
	n := 0
	err := s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		n = len(recs)
		return recs, false
	})
	return n, err
}

// locked runs fn on the file's records under both locks; if fn returns write, the records it returns
// replace the file.
func (s *FileTokenStore) locked(ctx context.Context, fn func([]tokenRecord) ([]tokenRecord, bool)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockFile(ctx, s.path+".lock")
	if err != nil {
		return fmt.Errorf("certs: token file %s: lock: %w", s.path, err)
	}
	defer unlock()

	recs, err := s.read()
	if err != nil {
		return err
	}
	recs, write := fn(recs)
	if !write {
		return nil
	}
	return s.write(recs)
}

func (s *FileTokenStore) read() ([]tokenRecord, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("certs: token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxTokenFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("certs: token file: %w", err)
	}
	recs, err := decodeTokenFile(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w (the file is left as it is: repair or remove it)", ErrTokenFileCorrupt, s.path, err)
	}
	return recs, nil
}

func (s *FileTokenStore) write(recs []tokenRecord) (err error) {
	b, err := encodeTokenFile(recs)
	if err != nil {
		return fmt.Errorf("certs: token file: %w", err)
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(s.path)+"-*") // mode 0600
	if err != nil {
		return fmt.Errorf("certs: token file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("certs: write token file %s: %w", s.path, err)
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// tokenRecord is a StoredToken as the file holds it.
type tokenRecord struct {
	SecretHash [sha256.Size]byte
	Expires    time.Time
}

// tokenJSON is one record of the file.
type tokenJSON struct {
	SecretHash string    `json:"secretHash"` // hex SHA-256 of the secret
	Expires    time.Time `json:"expires"`
}

// decodeTokenFile decodes a token file strictly: a JSON array of {"secretHash", "expires"} objects and
// nothing else, each hash 64 lowercase hex digits, each expiry an RFC 3339 time, no hash twice, at most
// MaxTokenFileBytes. An empty file (or only white space) is an empty store.
func decodeTokenFile(b []byte) ([]tokenRecord, error) {
	if len(b) > MaxTokenFileBytes {
		return nil, fmt.Errorf("over %d bytes", MaxTokenFileBytes)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var raw []tokenJSON
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, errors.New("not a JSON array")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON array")
	}
	recs := make([]tokenRecord, 0, len(raw))
	seen := make(map[[sha256.Size]byte]bool, len(raw))
	for i, r := range raw {
		if !isLowerHex(r.SecretHash, 2*sha256.Size) {
			return nil, fmt.Errorf("record %d: secretHash is not %d lowercase hex digits", i, 2*sha256.Size)
		}
		var h [sha256.Size]byte
		hex.Decode(h[:], []byte(r.SecretHash)) // checked above
		if seen[h] {
			return nil, fmt.Errorf("record %d: secretHash given twice", i)
		}
		seen[h] = true
		if r.Expires.IsZero() {
			return nil, fmt.Errorf("record %d: no expiry", i)
		}
		if y := r.Expires.UTC().Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("record %d: expiry out of range", i)
		}
		recs = append(recs, tokenRecord{SecretHash: h, Expires: r.Expires})
	}
	return recs, nil
}

// encodeTokenFile is decodeTokenFile's inverse.
func encodeTokenFile(recs []tokenRecord) ([]byte, error) {
	raw := make([]tokenJSON, len(recs))
	for i, r := range recs {
		raw[i] = tokenJSON{SecretHash: hex.EncodeToString(r.SecretHash[:]), Expires: r.Expires.UTC()}
	}
	b, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
