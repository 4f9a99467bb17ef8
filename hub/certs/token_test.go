package certs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseToken(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	secret := strings.Repeat("0f", 16)
	good := hash + "." + secret
	tok, err := ParseToken(good)
	if err != nil || tok.CAHash != hash || tok.Secret != secret || tok.String() != good {
		t.Fatalf("ParseToken = %+v, %v", tok, err)
	}
	bad := []string{
		"", ".", good + "0", good[:len(good)-1], hash + ":" + secret, hash + "." + strings.ToUpper(secret),
		strings.ToUpper(hash) + "." + secret, hash + "." + strings.Repeat("g", 32), " " + good[1:],
		hash + secret + ".", strings.Repeat("a", 63) + ".." + secret,
	}
	for _, s := range bad {
		if _, err := ParseToken(s); !errors.Is(err, ErrTokenMalformed) {
			t.Errorf("ParseToken(%q) = %v", s, err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseToken's error echoes the secret: %v", err)
		}
	}
	if s := fmt.Sprintf("%#v", tok); strings.Contains(s, secret) {
		t.Fatalf("%%#v shows the secret: %s", s)
	}
	if _, err := NewToken("nothex"); !errors.Is(err, ErrTokenMalformed) {
		t.Fatal(err)
	}
	t1, _ := NewToken(hash)
	t2, _ := NewToken(hash)
	if t1.Secret == t2.Secret || len(t1.Secret) != SecretLen {
		t.Fatalf("secrets %q %q", t1.Secret, t2.Secret)
	}
}

func TestAuthorityTokens(t *testing.T) {
	ctx := t.Context()
	a, clk := newAuthority(t)
	tok, err := a.IssueToken(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if tok.CAHash != a.CA().Hash() {
		t.Fatal("token does not pin the CA")
	}
	if _, err := a.CheckToken(ctx, tok.String()); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	// Reusable until it expires.
	if _, err := a.CheckToken(ctx, tok.String()); err != nil {
		t.Fatalf("second use: %v", err)
	}
	wrong, _ := NewToken(a.CA().Hash())
	if _, err := a.CheckToken(ctx, wrong.String()); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("unknown secret: %v", err)
	}
	other, _ := newAuthority(t)
	foreign := Token{CAHash: other.CA().Hash(), Secret: tok.Secret}
	if _, err := a.CheckToken(ctx, foreign.String()); !errors.Is(err, ErrCAHashMismatch) {
		t.Fatalf("token of another CA: %v", err)
	}
	if _, err := a.CheckToken(ctx, "junk"); !errors.Is(err, ErrTokenMalformed) {
		t.Fatalf("junk: %v", err)
	}
	clk.Add(time.Hour)
	if _, err := a.CheckToken(ctx, tok.String()); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
	// An expired token is forgotten.
	if _, err := a.CheckToken(ctx, tok.String()); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("expired, second time: %v", err)
	}
	// Default TTL, and withdrawal.
	tok2, _ := a.IssueToken(ctx, 0)
	clk.Add(DefaultTokenTTL - time.Second)
	if _, err := a.CheckToken(ctx, tok2.String()); err != nil {
		t.Fatalf("before the default TTL: %v", err)
	}
	if err := a.DeleteToken(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckToken(ctx, tok2.String()); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("deleted: %v", err)
	}
	if _, err := a.IssueToken(ctx, -time.Second); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("negative TTL: %v", err)
	}
}

func TestMemTokenStore(t *testing.T) {
	ctx := t.Context()
	s := NewMemTokenStore()
	now := time.Now()
	var toks []Token
	for i := range 5 {
		tok, _ := NewToken(strings.Repeat("0", 64))
		toks = append(toks, tok)
		if err := s.Put(ctx, StoredToken{SecretHash: tok.SecretHash(), Expires: now.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, tok := range toks {
		st, ok, err := s.Lookup(ctx, tok.SecretHash())
		if !ok || err != nil || !st.Expires.Equal(now.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("lookup %d: %v %v %v", i, st, ok, err)
		}
	}
	// Put replaces.
	s.Put(ctx, StoredToken{SecretHash: toks[0].SecretHash(), Expires: now.Add(time.Hour)})
	if s.Len() != 5 {
		t.Fatalf("Len %d after replacing", s.Len())
	}
	// Expired at now+150s: the tokens of 1 and 2 minutes (the first was replaced by one of an hour).
	if n := s.PruneExpired(now.Add(150 * time.Second)); n != 2 || s.Len() != 3 {
		t.Fatalf("pruned %d, left %d", n, s.Len())
	}
	if _, ok, _ := s.Lookup(ctx, toks[1].SecretHash()); ok {
		t.Fatal("pruned token still found")
	}
	s.Delete(ctx, toks[0].SecretHash())
	s.Delete(ctx, toks[0].SecretHash())
	if s.Len() != 2 {
		t.Fatalf("Len %d after delete", s.Len())
	}
}

// FuzzParseToken: never panics; a parsed token prints as its input.
func FuzzParseToken(f *testing.F) {
	for _, s := range seedCorpora()["FuzzParseToken"] {
		f.Add(string(s))
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			return
		}
		if tok.String() != s || len(tok.Secret) != SecretLen {
			t.Fatalf("ParseToken(%q) = %#v", s, tok)
		}
	})
}
