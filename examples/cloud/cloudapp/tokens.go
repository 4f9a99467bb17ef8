package cloudapp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/edgehive/edgehive/hub/certs"
)

// fileTokenStore is a certs.TokenStore kept in one JSON file of the data dir (mode 0600), so that
// `cloud token` (another process) can issue a token that the running cloud accepts. It stores only
// the SHA-256 of each secret and its expiry. Every operation reads the file again (joins are rare) under
// an exclusive flock of a lock file beside it; writes go to a temporary file renamed into place.
type fileTokenStore struct {
	path string
	mu   sync.Mutex // serialises this process's operations; flock serialises processes
}

var _ certs.TokenStore = (*fileTokenStore)(nil)

type tokenRecord struct {
	SecretHash string    `json:"secretHash"` // hex SHA-256 of the secret
	Expires    time.Time `json:"expires"`
}

func newFileTokenStore(path string) *fileTokenStore { return &fileTokenStore{path: path} }

// locked runs fn with the token records, under the locks; if fn returns write=true the records are
// written back.
func (s *fileTokenStore) locked(ctx context.Context, fn func(recs []tokenRecord) ([]tokenRecord, bool)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lock, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("token store: lock: %w", err)
	}
	// Closing the lock file (deferred above) releases the flock.

	var recs []tokenRecord
	b, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("token store: %w", err)
	default:
		if err := json.Unmarshal(b, &recs); err != nil {
			return fmt.Errorf("token store: %s: %w", s.path, err)
		}
	}
	recs, write := fn(recs)
	if !write {
		return nil
	}
	out, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".tokens-*")
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(out, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("token store: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("token store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	return nil
}

// Put implements certs.TokenStore. Expired records are pruned on the way.
func (s *fileTokenStore) Put(ctx context.Context, t certs.StoredToken) error {
	h := hex.EncodeToString(t.SecretHash[:])
	now := time.Now()
	return s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		kept := recs[:0]
		for _, r := range recs {
			if r.SecretHash != h && now.Before(r.Expires) {
				kept = append(kept, r)
			}
		}
		return append(kept, tokenRecord{SecretHash: h, Expires: t.Expires}), true
	})
}

// Lookup implements certs.TokenStore, comparing against every record in constant time.
func (s *fileTokenStore) Lookup(ctx context.Context, h [sha256.Size]byte) (certs.StoredToken, bool, error) {
	var found certs.StoredToken
	ok := false
	err := s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		for _, r := range recs {
			var rh [sha256.Size]byte
			b, err := hex.DecodeString(r.SecretHash)
			if err != nil || len(b) != sha256.Size {
				continue
			}
			copy(rh[:], b)
			if subtle.ConstantTimeCompare(rh[:], h[:]) == 1 {
				found, ok = certs.StoredToken{SecretHash: rh, Expires: r.Expires}, true
			}
		}
		return recs, false
	})
	return found, ok, err
}

// Delete implements certs.TokenStore.
func (s *fileTokenStore) Delete(ctx context.Context, h [sha256.Size]byte) error {
	hs := hex.EncodeToString(h[:])
	return s.locked(ctx, func(recs []tokenRecord) ([]tokenRecord, bool) {
		kept := recs[:0]
		for _, r := range recs {
			if r.SecretHash != hs {
				kept = append(kept, r)
			}
		}
		return kept, len(kept) != len(recs)
	})
}
