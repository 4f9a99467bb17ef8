package metaserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is the read-only Kubernetes-style API over a meta.Store. Create it with New (which listens),
// serve with Run, stop with Close or by ending Run's context.
type Server struct {
	cfg  Config
	ln   net.Listener
	addr string
	http *http.Server

	// base is the context of every request; cancelling it ends the watches at shutdown.
	base       context.Context
	cancelBase context.CancelFunc

	closeOnce sync.Once
	closeErr  error
	runOnce   sync.Once
}

// New validates cfg and listens on cfg.Addr; call Run to serve.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("metaserver: listen: %w", err)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, ln: ln, addr: ln.Addr().String(), base: base, cancelBase: cancel}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	return s, nil
}

// Addr returns the address the server listens on ("127.0.0.1:port").
func (s *Server) Addr() string { return s.addr }

// URL returns the server's base URL, for kubectl --server and client-go's rest.Config.Host.
func (s *Server) URL() string { return "http://" + s.addr }

// Run serves until ctx ends or Close is called, then shuts down (ending the watches) and returns nil,
// or the error that stopped serving. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	err := errors.New("metaserver: Run called twice")
	s.runOnce.Do(func() {
		stop := context.AfterFunc(ctx, func() { _ = s.Close() })
		defer stop()
		err = s.http.Serve(s.ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		_ = s.Close()
	})
	return err
}

// Close stops the server: it stops accepting, ends the watches, and waits up to ShutdownTimeout for
// the requests in progress. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancelBase()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		s.closeErr = s.http.Shutdown(ctx)
		_ = s.ln.Close()
	})
	return s.closeErr
}
