package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
)

func TestJoin(t *testing.T) {
	ctx := t.Context()
	a, _ := newAuthority(t)
	var joined atomic.Pointer[NodeCert]
	ts := startJoinServer(t, a, JoinConfig{OnJoin: func(nc NodeCert) { joined.Store(&nc) }})
	tok := mustToken(t, a, 0)
	key := mustKey(t)

	res, err := Join(ctx, ts.URL, tok, "edge-1", key)
	if err != nil {
		t.Fatal(err)
	}
	if !res.CA.Equal(a.CA().Certificate()) || !bytes.Equal(res.CAPEM, a.CA().CertPEM()) {
		t.Fatal("joined with another CA")
	}
	leaf := res.Certificate.Leaf
	if leaf.Subject.CommonName != "system:node:edge-1" || res.Certificate.PrivateKey != key || len(res.Certificate.Certificate) != 2 {
		t.Fatalf("certificate %v", leaf.Subject)
	}
	if nc := joined.Load(); nc == nil || nc.Node != "edge-1" || !nc.Certificate.Equal(leaf) {
		t.Fatal("OnJoin was not told")
	}
	if n, err := NodeFromCertificate(leaf, a.Denylist()); err != nil || n != "edge-1" {
		t.Fatalf("the joined certificate is not a node certificate: %v", err)
	}
	// A path prefix on the base URL.
	prefixed := startPrefixed(t, a)
	if _, err := Join(ctx, prefixed+"/edgehive/", tok, "edge-2", key); err != nil {
		t.Fatalf("join under a prefix: %v", err)
	}
}

// startPrefixed serves the join endpoint under /edgehive on a server of its own.
func startPrefixed(t *testing.T, a *Authority) string {
	h, _ := a.JoinHandler(JoinConfig{})
	mux := http.NewServeMux()
	mux.Handle("/edgehive/", http.StripPrefix("/edgehive", h))
	srv, _ := a.IssueServerCert(ServerCertConfig{DNSNames: []string{"localhost"}, IPAddresses: ipLoopback()})
	ts := httptest.NewUnstartedServer(mux)
	ts.TLS = JoinTLSConfig(srv)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestJoinRefused(t *testing.T) {
	ctx := t.Context()
	a, clk := newAuthority(t)
	var refusals atomic.Int32
	ts := startJoinServer(t, a, JoinConfig{OnRefuse: func(*http.Request, error) { refusals.Add(1) }})
	key := mustKey(t)

	wrong, _ := NewToken(a.CA().Hash())
	if _, err := Join(ctx, ts.URL, wrong.String(), "edge-1", key); !errors.Is(err, ErrTokenUnknown) || !errors.Is(err, ErrJoinRefused) {
		t.Errorf("wrong token: %v", err)
	}
	var je *JoinError
	if _, err := Join(ctx, ts.URL, wrong.String(), "edge-1", key); !errors.As(err, &je) || je.Status != http.StatusUnauthorized || je.Code != "TokenUnknown" {
		t.Errorf("wrong token: %#v", je)
	}

	expiring := mustToken(t, a, time.Minute)
	clk.Add(2 * time.Minute)
	if _, err := Join(ctx, ts.URL, expiring, "edge-1", key); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired token: %v", err)
	}

	// A token of another cloud: the CA this server shows does not hash to the token's pin, and nothing
	// is sent to it.
	other, _ := newAuthority(t)
	before := refusals.Load()
	if _, err := Join(ctx, ts.URL, mustToken(t, other, 0), "edge-1", key); !errors.Is(err, ErrCAHashMismatch) {
		t.Errorf("CA hash mismatch: %v", err)
	}
	if refusals.Load() != before {
		t.Error("the client posted its request to a CA it did not pin")
	}

	tok := mustToken(t, a, 0)
	a.Denylist().DenyNode(ctx, "edge-bad")
	if _, err := Join(ctx, ts.URL, tok, "edge-bad", key); !errors.Is(err, ErrRevoked) || !errors.As(err, &je) || je.Status != http.StatusForbidden {
		t.Errorf("revoked node: %v", err)
	}

	if _, err := Join(ctx, ts.URL, "not-a-token", "edge-1", key); !errors.Is(err, ErrTokenMalformed) {
		t.Errorf("malformed token: %v", err)
	}
	if _, err := Join(ctx, ts.URL, tok, "Edge_1", key); !errors.Is(err, hub.ErrBadNodeName) {
		t.Errorf("bad node name: %v", err)
	}
	if _, err := Join(ctx, strings.Replace(ts.URL, "https", "http", 1), tok, "edge-1", key); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("http URL: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Join(cctx, ts.URL, tok, "edge-1", key); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}

	// Malformed requests, sent over the pinned connection.
	ca := a.CA().Certificate()
	for name, c := range map[string]struct {
		csr  []byte
		want error
	}{
		"garbage CSR":  {[]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), ErrCSRMalformed},
		"not PEM":      {[]byte("hello"), ErrCSRMalformed},
		"bad CN":       {csrWith(t, pkixName("edge-1"), key), ErrBadCommonName},
		"certificate":  {a.CA().CertPEM(), ErrCSRMalformed},
		"oversize CSR": {bytes.Repeat([]byte("A"), MaxCSRSize+1), ErrCSRMalformed},
	} {
		_, err := RequestCertificate(ctx, ts.URL, ca, tok, c.csr)
		if !errors.Is(err, c.want) || !errors.As(err, &je) || je.Status != http.StatusBadRequest {
			t.Errorf("%s: %v", name, err)
		}
	}
	if refusals.Load() == 0 {
		t.Error("OnRefuse was never called")
	}
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }

func ipLoopback() []net.IP { return []net.IP{net.IPv4(127, 0, 0, 1)} }

func TestJoinHandlerHTTP(t *testing.T) {
	a, _ := newAuthority(t)
	h, err := a.JoinHandler(JoinConfig{MaxBodySize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	tok := mustToken(t, a, 0)
	csr := string(mustCSR(t, "edge-1", mustKey(t)))
	body := func(v any) io.Reader { b, _ := json.Marshal(v); return bytes.NewReader(b) }
	cases := []struct {
		name   string
		method string
		path   string
		ctype  string
		body   io.Reader
		status int
		code   string
	}{
		{"ca", "GET", PathCA, "", nil, 200, ""},
		{"ca head", "HEAD", PathCA, "", nil, 200, ""},
		{"ca post", "POST", PathCA, "", nil, 405, "MethodNotAllowed"},
		{"csr get", "GET", PathCSR, "", nil, 405, "MethodNotAllowed"},
		{"unknown path", "GET", "/nope", "", nil, 404, "NotFound"},
		{"not json", "POST", PathCSR, "text/plain", strings.NewReader("x"), 415, "UnsupportedMediaType"},
		{"json with charset", "POST", PathCSR, "application/json; charset=utf-8", body(JoinRequest{tok, "x"}), 400, "CSRMalformed"},
		{"too large", "POST", PathCSR, "", strings.NewReader(`{"token":"` + strings.Repeat("a", 2000) + `"}`), 413, "TooLarge"},
		{"empty", "POST", PathCSR, "", strings.NewReader(""), 400, "BadRequest"},
		{"unknown field", "POST", PathCSR, "", strings.NewReader(`{"token":"a","csr":"b","node":"x"}`), 400, "BadRequest"},
		{"trailing", "POST", PathCSR, "", strings.NewReader(`{"token":"a","csr":"b"} {}`), 400, "BadRequest"},
		{"missing csr", "POST", PathCSR, "", strings.NewReader(`{"token":"a"}`), 400, "BadRequest"},
		{"array", "POST", PathCSR, "", strings.NewReader(`[]`), 400, "BadRequest"},
		{"bad token", "POST", PathCSR, "", body(JoinRequest{"a", csr}), 400, "TokenMalformed"},
		{"ok", "POST", PathCSR, "application/json", body(JoinRequest{tok, csr}), 200, ""},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, c.body)
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, rec.Code, c.status, rec.Body)
			continue
		}
		if c.code != "" {
			var eb errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Code != c.code || rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("%s: body %q, want code %s", c.name, rec.Body, c.code)
			}
		}
	}
	// A body announced over the limit is refused before it is read.
	req := httptest.NewRequest("POST", PathCSR, &failReader{t})
	req.ContentLength = 1 << 20
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("announced oversize body: %d", rec.Code)
	}
	if _, err := a.JoinHandler(JoinConfig{MaxBodySize: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatal(err)
	}
}

type failReader struct{ t *testing.T }

func (r *failReader) Read([]byte) (int, error) {
	r.t.Error("the handler read a body it should have refused")
	return 0, io.EOF
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpora in testdata/fuzz")

// seedCorpora are the seeds kept in testdata/fuzz/<Fuzzer>/.
func seedCorpora() map[string]map[string][]byte {
	hash := strings.Repeat("0123456789abcdef", 4)
	return map[string]map[string][]byte{
		"FuzzParseToken": {
			"valid":     []byte(hash + "." + strings.Repeat("ab", 16)),
			"upper":     []byte(strings.ToUpper(hash) + "." + strings.Repeat("AB", 16)),
			"no-dot":    []byte(hash + strings.Repeat("ab", 16) + "x"),
			"empty":     nil,
			"two-dots":  []byte(hash + ".." + strings.Repeat("ab", 15) + "a"),
			"non-ascii": []byte(strings.Repeat("é", 32) + "." + strings.Repeat("ab", 16)),
		},
		"FuzzJoinRequest": {
			"shape":          []byte(`{"token":"` + hash + "." + strings.Repeat("ab", 16) + `","csr":"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"}`),
			"empty-object":   []byte(`{}`),
			"null":           []byte(`null`),
			"trailing":       []byte(`{"token":"a","csr":"b"}{"token":"a"}`),
			"unknown-field":  []byte(`{"token":"a","csr":"b","x":1}`),
			"wrong-types":    []byte(`{"token":1,"csr":[]}`),
			"deep":           []byte(strings.Repeat("[", 10000)),
			"escaped":        []byte(`{"token":"\u0000\ud800","csr":"\n"}`),
			"duplicate-keys": []byte(`{"token":"a","token":"b","csr":"c"}`),
		},
	}
}

// TestSeedCorpora checks that testdata/fuzz holds the seeds (go test -update-seeds rewrites them).
func TestSeedCorpora(t *testing.T) {
	for fuzzer, seeds := range seedCorpora() {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		for name, b := range seeds {
			typ := "[]byte"
			if fuzzer == "FuzzParseToken" {
				typ = "string"
			}
			want := "go test fuzz v1\n" + typ + "(" + strconv.Quote(string(b)) + ")\n"
			path := filepath.Join(dir, name)
			if *updateSeeds {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != want {
				t.Errorf("seed %s is missing or stale (%v); run go test ./hub/certs -run TestSeedCorpora -update-seeds", path, err)
			}
		}
	}
}

// FuzzJoinRequest: decoding a join request never panics, and the endpoint answers any body with one of
// its statuses. Valid requests (a live token and a real CSR) are among the seeds.
func FuzzJoinRequest(f *testing.F) {
	a, _ := newAuthority(f)
	h, err := a.JoinHandler(JoinConfig{})
	if err != nil {
		f.Fatal(err)
	}
	tok := mustToken(f, a, time.Hour)
	for _, b := range seedCorpora()["FuzzJoinRequest"] {
		f.Add(b)
	}
	for _, node := range []string{"edge-1", "Bad"} {
		csr := string(csrWith(f, pkixName("system:node:"+node), mustKey(f)))
		for _, tk := range []string{tok, tok[:len(tok)-1] + "0"} {
			b, _ := json.Marshal(JoinRequest{Token: tk, CSR: csr})
			f.Add(b)
		}
	}
	allowed := map[int]bool{200: true, 400: true, 401: true, 403: true, 413: true}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeJoinRequest(bytes.NewReader(body))
		if err == nil && (req.Token == "" || req.CSR == "") {
			t.Fatalf("decoded an incomplete request %+v", req)
		}
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Fatalf("decode error without ErrBadRequest: %v", err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", PathCSR, bytes.NewReader(body)))
		if !allowed[rec.Code] {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code == 200 {
			if _, err := x509.ParseCertificate(mustFirstDER(t, rec.Body.Bytes())); err != nil {
				t.Fatalf("200 without a certificate: %v", err)
			}
		}
	})
}

func mustFirstDER(t *testing.T, pemBytes []byte) []byte {
	certs, err := ParseCertsPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0].Raw
}
