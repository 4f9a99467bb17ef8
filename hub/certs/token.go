package certs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Token format: "<CA hash>.<secret>", the CA hash 64 lowercase hex digits (HashDER of the CA
// certificate) and the secret SecretLen lowercase hex digits from crypto/rand (128 bits).
const (
	CAHashLen = 64
	SecretLen = 32
	TokenLen  = CAHashLen + 1 + SecretLen
)

// Token is a join token. The CA hash lets the edge pin the CA it fetches; the secret authenticates the
// edge's first certificate request. Tokens are reusable until they expire (one token can join many
// nodes), as kubeadm's are.
type Token struct {
	CAHash string
	Secret string
}

// NewToken returns a token with a fresh random secret for the CA of the given hash.
func NewToken(caHash string) (Token, error) {
	if !isLowerHex(caHash, CAHashLen) {
		return Token{}, fmt.Errorf("%w: CA hash must be %d lowercase hex digits", ErrTokenMalformed, CAHashLen)
	}
	var b [SecretLen / 2]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return Token{CAHash: caHash, Secret: hex.EncodeToString(b[:])}, nil
}

// ParseToken parses a token strictly: exactly TokenLen bytes, the CA hash, '.', the secret, lowercase
// hex digits only. Errors wrap ErrTokenMalformed and never echo the secret.
func ParseToken(s string) (Token, error) {
	if len(s) != TokenLen {
		return Token{}, fmt.Errorf("%w: %d bytes, want %d (<%d hex digits>.<%d hex digits>)", ErrTokenMalformed, len(s), TokenLen, CAHashLen, SecretLen)
	}
	if s[CAHashLen] != '.' {
		return Token{}, fmt.Errorf("%w: no '.' after the %d-digit CA hash", ErrTokenMalformed, CAHashLen)
	}
	t := Token{CAHash: s[:CAHashLen], Secret: s[CAHashLen+1:]}
	if !isLowerHex(t.CAHash, CAHashLen) {
		return Token{}, fmt.Errorf("%w: the CA hash is not lowercase hex", ErrTokenMalformed)
	}
	if !isLowerHex(t.Secret, SecretLen) {
		return Token{}, fmt.Errorf("%w: the secret is not lowercase hex", ErrTokenMalformed)
	}
	return t, nil
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// String returns the token in its printed form. It contains the secret: print it only to the operator.
func (t Token) String() string { return t.CAHash + "." + t.Secret }

// GoString hides the secret from %#v.
func (t Token) GoString() string {
	return "certs.Token{CAHash: " + strconv.Quote(t.CAHash) + ", Secret: <hidden>}"
}

// SecretHash returns the SHA-256 of the secret: the form in which token stores keep it.
func (t Token) SecretHash() [sha256.Size]byte { return sha256.Sum256([]byte(t.Secret)) }

// StoredToken is what a TokenStore keeps of a token: the hash of its secret (never the secret) and its
// expiry.
type StoredToken struct {
	SecretHash [sha256.Size]byte
	Expires    time.Time
}

// TokenStore keeps the tokens an Authority issued. Implementations must be safe for concurrent use and
// must compare hashes in constant time (a lookup's duration must not depend on how much of a hash
// matches). Expiry is the Authority's business: a store returns expired tokens like any other.
type TokenStore interface {
	// Put records a token, replacing one with the same hash.
	Put(ctx context.Context, t StoredToken) error
	// Lookup returns the token whose secret hashes to h.
	Lookup(ctx context.Context, h [sha256.Size]byte) (t StoredToken, ok bool, err error)
	// Delete forgets the token whose secret hashes to h; deleting an unknown token is not an error.
	Delete(ctx context.Context, h [sha256.Size]byte) error
}

// MemTokenStore is an in-memory TokenStore. Lookup compares against every stored hash in constant time,
// with no early exit; a cloud holds few live tokens.
type MemTokenStore struct {
	mu     sync.Mutex
	tokens []StoredToken
}

// NewMemTokenStore returns an empty store.
func NewMemTokenStore() *MemTokenStore { return &MemTokenStore{} }

// Put implements TokenStore.
func (s *MemTokenStore) Put(ctx context.Context, t StoredToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.tokens {
		if s.tokens[i].SecretHash == t.SecretHash {
			s.tokens[i] = t
			return nil
		}
	}
	s.tokens = append(s.tokens, t)
	return nil
}

// Lookup implements TokenStore.
func (s *MemTokenStore) Lookup(ctx context.Context, h [sha256.Size]byte) (StoredToken, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := -1
	for i := range s.tokens {
		eq := subtle.ConstantTimeCompare(s.tokens[i].SecretHash[:], h[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return StoredToken{}, false, nil
	}
	return s.tokens[found], true, nil
}

// Delete implements TokenStore.
func (s *MemTokenStore) Delete(ctx context.Context, h [sha256.Size]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.tokens {
		if s.tokens[i].SecretHash == h {
			s.tokens = append(s.tokens[:i], s.tokens[i+1:]...)
			return nil
		}
	}
	return nil
}

// PruneExpired forgets the tokens expired at now, and returns how many it forgot.
func (s *MemTokenStore) PruneExpired(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.tokens[:0]
	for _, t := range s.tokens {
		if now.Before(t.Expires) {
			kept = append(kept, t)
		}
	}
	n := len(s.tokens) - len(kept)
	clear(s.tokens[len(kept):])
	s.tokens = kept
	return n
}

// Len returns the number of stored tokens.
func (s *MemTokenStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

var _ TokenStore = (*MemTokenStore)(nil)
