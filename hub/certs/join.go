package certs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// The join endpoint. It is served over TLS (JoinTLSConfig) without client certificates.
const (
	// PathCA serves the CA certificate in PEM (GET). The edge does not trust it until it hashes to the
	// token's CA hash.
	PathCA = "/ca.crt"
	// PathCSR takes a JoinRequest as JSON (POST) and answers with the node's PEM certificate chain
	// (node certificate, then CA certificate).
	PathCSR = "/node/csr"
	// DefaultMaxJoinBody bounds a join request's body, in bytes.
	DefaultMaxJoinBody = 64 << 10
)

// JoinRequest is the body of POST /node/csr.
type JoinRequest struct {
	Token string `json:"token"`
	CSR   string `json:"csr"` // PEM
}

// DecodeJoinRequest reads one JoinRequest strictly: a single JSON object with the fields token and csr,
// both non-empty, nothing else and nothing after it. Errors wrap ErrBadRequest (and the reader's error,
// such as *http.MaxBytesError).
func DecodeJoinRequest(r io.Reader) (JoinRequest, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var req JoinRequest
	if err := dec.Decode(&req); err != nil {
		return JoinRequest{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the JSON object")
		}
		return JoinRequest{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	if req.Token == "" || req.CSR == "" {
		return JoinRequest{}, fmt.Errorf("%w: token and csr are required", ErrBadRequest)
	}
	return req, nil
}

// JoinConfig configures JoinHandler. Zero fields take the defaults.
type JoinConfig struct {
	// MaxBodySize bounds a request body, in bytes (default DefaultMaxJoinBody); larger bodies are refused
	// with 413 before they are read into memory.
	MaxBodySize int64
	// OnJoin, if set, is told of each certificate issued (for logs and for registering the node).
	OnJoin func(NodeCert)
	// OnRefuse, if set, is told of each refused request with its reason (for logs and metrics).
	OnRefuse func(r *http.Request, err error)
}

// Validate reports a bad config, wrapping ErrInvalidConfig.
func (c JoinConfig) Validate() error {
	if c.MaxBodySize < 0 {
		return fmt.Errorf("%w: negative MaxBodySize", ErrInvalidConfig)
	}
	return nil
}

// JoinHandler returns the join endpoint as an http.Handler: GET /ca.crt and POST /node/csr. Errors are
// answered with a status and a JSON body {"code": …, "message": …} (see JoinError for the codes): 400
// for a malformed request, token or certificate request, 401 for an unknown or expired token or one
// made for another CA, 403 for a revoked node, 404, 405, 413 for a body over the limit, 415 for a body
// that is not JSON, 500 for a failure of the token store.
func (a *Authority) JoinHandler(cfg JoinConfig) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxBodySize == 0 {
		cfg.MaxBodySize = DefaultMaxJoinBody
	}
	return &joinHandler{a: a, cfg: cfg}, nil
}

type joinHandler struct {
	a   *Authority
	cfg JoinConfig
}

func (h *joinHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case PathCA:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.refuse(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", errors.New("use GET"))
			return
		}
		pem := h.a.cfg.CA.certPEM
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Content-Length", strconv.Itoa(len(pem)))
		w.Header().Set("Cache-Control", "no-store")
		if r.Method == http.MethodGet {
			w.Write(pem)
		}
	case PathCSR:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			h.refuse(w, r, http.StatusMethodNotAllowed, "MethodNotAllowed", errors.New("use POST"))
			return
		}
		h.join(w, r)
	default:
		h.refuse(w, r, http.StatusNotFound, "NotFound", errors.New("no such endpoint"))
	}
}

func (h *joinHandler) join(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			h.refuse(w, r, http.StatusUnsupportedMediaType, "UnsupportedMediaType", errors.New("send application/json"))
			return
		}
	}
	if r.ContentLength > h.cfg.MaxBodySize {
		h.fail(w, r, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, r.ContentLength, h.cfg.MaxBodySize))
		return
	}
	req, err := DecodeJoinRequest(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodySize))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, h.cfg.MaxBodySize)
		}
		h.fail(w, r, err)
		return
	}
	nc, err := h.a.SignNodeCSR(r.Context(), []byte(req.CSR), req.Token)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.cfg.OnJoin != nil {
		h.cfg.OnJoin(nc)
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Length", strconv.Itoa(len(nc.ChainPEM)))
	w.Write(nc.ChainPEM)
}

// fail answers err with the status and code of its sentinel.
func (h *joinHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, status := errorCode(err)
	if status == http.StatusInternalServerError {
		// Do not tell the client about our store; OnRefuse gets the details.
		h.refuseMessage(w, r, status, code, "internal error", err)
		return
	}
	h.refuse(w, r, status, code, err)
}

func (h *joinHandler) refuse(w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	h.refuseMessage(w, r, status, code, err.Error(), err)
}

func (h *joinHandler) refuseMessage(w http.ResponseWriter, r *http.Request, status int, code, msg string, err error) {
	if h.cfg.OnRefuse != nil {
		h.cfg.OnRefuse(r, err)
	}
	b, _ := json.Marshal(errorBody{Code: code, Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorCode maps an error of the join to its code and HTTP status.
func errorCode(err error) (string, int) {
	for _, c := range joinCodes() {
		if errors.Is(err, c.err) {
			return c.code, c.status
		}
	}
	return "Internal", http.StatusInternalServerError
}

// codeError maps a code back to its sentinel, or nil.
func codeError(code string) error {
	for _, c := range joinCodes() {
		if c.code == code {
			return c.err
		}
	}
	return nil
}

type joinCode struct {
	err    error
	code   string
	status int
}

// joinCodes is the table of JoinError codes. It is built on each call, so that there is no package
// state to mutate; it is only consulted on errors.
func joinCodes() []joinCode {
	return []joinCode{
		{ErrTooLarge, "TooLarge", http.StatusRequestEntityTooLarge},
		{ErrBadRequest, "BadRequest", http.StatusBadRequest},
		{ErrTokenMalformed, "TokenMalformed", http.StatusBadRequest},
		{ErrTokenUnknown, "TokenUnknown", http.StatusUnauthorized},
		{ErrTokenExpired, "TokenExpired", http.StatusUnauthorized},
		{ErrCAHashMismatch, "CAHashMismatch", http.StatusUnauthorized},
		{ErrCSRMalformed, "CSRMalformed", http.StatusBadRequest},
		{ErrCSRSignature, "CSRSignature", http.StatusBadRequest},
		{ErrUnsupportedKey, "UnsupportedKey", http.StatusBadRequest},
		{ErrBadCommonName, "BadCommonName", http.StatusBadRequest},
		{ErrRevoked, "Revoked", http.StatusForbidden},
	}
}
