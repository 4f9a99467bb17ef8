package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
)

func TestNodeFromCertificate(t *testing.T) {
	ctx := t.Context()
	a, _ := newAuthority(t)
	nc, err := a.SignNodeCSR(ctx, mustCSR(t, "edge-1", mustKey(t)), mustToken(t, a, 0))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := NodeFromCertificate(nc.Certificate, a.Denylist()); err != nil || n != "edge-1" {
		t.Fatalf("node %q, %v", n, err)
	}
	if n, err := NodeFromCertificate(nc.Certificate, nil); err != nil || n != "edge-1" {
		t.Fatalf("without denylist: %q, %v", n, err)
	}
	// Certificates the CA would sign but that are not node client certificates.
	srv, _ := a.IssueServerCert(ServerCertConfig{DNSNames: []string{"x"}})
	mk := func(cn string, orgs []string, eku ...x509.ExtKeyUsage) *x509.Certificate {
		c, err := a.sign(&x509.Certificate{Subject: pkix.Name{CommonName: cn, Organization: orgs}, ExtKeyUsage: eku}, mustKey(t).Public(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	nodes := []string{hub.NodesGroup}
	cases := []struct {
		name string
		cert *x509.Certificate
		want error
	}{
		{"nil", nil, ErrNoClientCert},
		{"server certificate", srv.Leaf, ErrNotClientCert},
		{"no usage", mk("system:node:edge-1", nodes), ErrNotClientCert},
		{"no group", mk("system:node:edge-1", nil, x509.ExtKeyUsageClientAuth), ErrNotClientCert},
		{"masters", mk("system:node:edge-1", []string{"system:masters"}, x509.ExtKeyUsageClientAuth), ErrNotClientCert},
		{"bad CN form", mk("edge-1", nodes, x509.ExtKeyUsageClientAuth), ErrBadCommonName},
		{"bad name", mk("system:node:EDGE", nodes, x509.ExtKeyUsageClientAuth), ErrBadCommonName},
	}
	for _, c := range cases {
		if _, err := NodeFromCertificate(c.cert, a.Denylist()); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := VerifyNode(tls.ConnectionState{}, nil); !errors.Is(err, ErrNoClientCert) {
		t.Fatalf("no chain: %v", err)
	}
	// Revocation by serial spares the node's other certificates; by name it refuses them all.
	nc2, _ := a.SignNodeCSR(ctx, mustCSR(t, "edge-1", mustKey(t)), mustToken(t, a, 0))
	if err := a.Denylist().DenySerial(ctx, nc.Certificate.SerialNumber); err != nil {
		t.Fatal(err)
	}
	if _, err := NodeFromCertificate(nc.Certificate, a.Denylist()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("denied serial: %v", err)
	}
	if _, err := NodeFromCertificate(nc2.Certificate, a.Denylist()); err != nil {
		t.Fatalf("other certificate of the node: %v", err)
	}
	a.Denylist().DenyNode(ctx, "edge-1")
	if _, err := NodeFromCertificate(nc2.Certificate, a.Denylist()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("denied node: %v", err)
	}
}

func TestMemDenylist(t *testing.T) {
	ctx := t.Context()
	d := NewMemDenylist()
	ch := d.Changed()
	if d.Denied("edge-1", big.NewInt(5)) {
		t.Fatal("empty list denies")
	}
	if err := d.DenyNode(ctx, "Bad Name"); !errors.Is(err, hub.ErrBadNodeName) {
		t.Fatal(err)
	}
	if err := d.DenySerial(ctx, nil); !errors.Is(err, ErrBadCertificate) {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("Changed fired without a change")
	default:
	}
	d.DenySerial(ctx, big.NewInt(5))
	select {
	case <-ch:
	default:
		t.Fatal("Changed did not fire")
	}
	if !d.Denied("edge-2", big.NewInt(5)) || d.Denied("edge-2", big.NewInt(6)) || d.Denied("edge-2", nil) {
		t.Fatal("serial denial")
	}
	ch = d.Changed()
	d.DenyNode(ctx, "edge-2")
	<-ch
	if !d.Denied("edge-2", nil) || d.Denied("edge-3", nil) {
		t.Fatal("node denial")
	}
}

// handshake dials a server of cfg on 127.0.0.1 with client config cc and returns the node the server
// saw (VerifyNode after its handshake) or the server's handshake error.
func handshake(t *testing.T, srv, cc *tls.Config, deny Denylist) (hub.NodeName, *big.Int, error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		node   hub.NodeName
		serial *big.Int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tc.HandshakeContext(ctx); err != nil {
			done <- result{err: err}
			return
		}
		cs := tc.ConnectionState()
		n, err := VerifyNode(cs, deny)
		if err == nil {
			_, err = tc.Write([]byte("ok"))
		}
		done <- result{n, cs.PeerCertificates[0].SerialNumber, err}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), cc)
	if err == nil {
		// In TLS 1.3 the client learns of a refused certificate on its first read.
		_, err = io.ReadFull(conn, make([]byte, 2))
		conn.Close()
	}
	r := <-done
	if r.err == nil && err != nil {
		t.Fatalf("server accepted, client failed: %v", err)
	}
	return r.node, r.serial, r.err
}

func TestMutualTLS(t *testing.T) {
	ctx := t.Context()
	a, _ := newAuthority(t)
	srvCert, err := a.IssueServerCert(ServerCertConfig{DNSNames: []string{"cloudhub.test"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := ServerTLSConfig(a.CA().Certificate(), srvCert, a.Denylist())
	key := mustKey(t)
	nc, _ := a.SignNodeCSR(ctx, mustCSR(t, "edge-1", key), mustToken(t, a, 0))
	cert, err := NewTLSCertificate(nc.ChainPEM, key)
	if err != nil {
		t.Fatal(err)
	}
	holder := NewCertHolder(cert)
	cc := ClientTLSConfig(a.CA().Certificate(), "cloudhub.test", holder)
	if srv.MinVersion != tls.VersionTLS13 || cc.MinVersion != tls.VersionTLS13 {
		t.Fatal("not TLS 1.3 only")
	}

	node, serial, err := handshake(t, srv, cc, a.Denylist())
	if err != nil || node != "edge-1" || serial.Cmp(nc.Certificate.SerialNumber) != 0 {
		t.Fatalf("handshake: %q, %v", node, err)
	}

	// Rotation: the next handshake presents the new certificate, with the same client config.
	key2 := mustKey(t)
	nc2, err := a.RenewNodeCert(ctx, node, mustCSR(t, "edge-1", key2))
	if err != nil {
		t.Fatal(err)
	}
	cert2, _ := NewTLSCertificate(nc2.ChainPEM, key2)
	holder.Set(cert2)
	if _, serial, err = handshake(t, srv, cc, a.Denylist()); err != nil || serial.Cmp(nc2.Certificate.SerialNumber) != 0 {
		t.Fatalf("after rotation: serial %x, %v", serial, err)
	}

	// No client certificate, a certificate of another CA, a server certificate as client certificate.
	if _, _, err := handshake(t, srv, ClientTLSConfig(a.CA().Certificate(), "cloudhub.test", &CertHolder{}), a.Denylist()); err == nil {
		t.Fatal("handshake without a client certificate succeeded")
	}
	b, _ := newAuthority(t)
	onc, _ := b.SignNodeCSR(ctx, mustCSR(t, "edge-1", key), mustToken(t, b, 0))
	ocert, _ := NewTLSCertificate(onc.ChainPEM, key)
	if _, _, err := handshake(t, srv, ClientTLSConfig(a.CA().Certificate(), "cloudhub.test", NewCertHolder(ocert)), a.Denylist()); err == nil {
		t.Fatal("handshake with another CA's certificate succeeded")
	}
	if _, _, err := handshake(t, srv, ClientTLSConfig(a.CA().Certificate(), "cloudhub.test", NewCertHolder(srvCert)), a.Denylist()); err == nil {
		t.Fatal("handshake with a server certificate as client certificate succeeded")
	}
	// The client refuses a server certificate for another name.
	if _, _, err := handshake(t, srv, ClientTLSConfig(a.CA().Certificate(), "other.test", holder), a.Denylist()); err == nil {
		t.Fatal("client accepted a server certificate for another name")
	}

	// Revocation by serial refuses the old certificate at the handshake, not the new one.
	a.Denylist().DenySerial(ctx, nc2.Certificate.SerialNumber)
	if _, _, err := handshake(t, srv, cc, a.Denylist()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked serial: %v", err)
	}
	holder.Set(cert)
	if _, _, err := handshake(t, srv, cc, a.Denylist()); err != nil {
		t.Fatalf("the node's other certificate: %v", err)
	}
	a.Denylist().DenyNode(ctx, "edge-1")
	if _, _, err := handshake(t, srv, cc, a.Denylist()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked node: %v", err)
	}
}

func TestRotate(t *testing.T) {
	nb := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	year := nb.AddDate(1, 0, 0)
	cases := []struct {
		now       time.Time
		notBefore time.Time
		notAfter  time.Time
		want      bool
	}{
		{nb, nb, year, false},
		{nb.Add(-time.Hour), nb, year, false},
		{nb.Add(year.Sub(nb) * 8 / 10).Add(-time.Second), nb, year, false},
		{nb.Add(year.Sub(nb) * 8 / 10), nb, year, true},
		{year.Add(-time.Second), nb, year, true},
		{year.Add(time.Hour), nb, year, true}, // expired: due, but too late for the link: join again
		{nb, nb, nb, true},                    // no validity
		{nb, nb, nb.Add(-time.Hour), true},    // inverted
		{nb.Add(79 * time.Second), nb, nb.Add(100 * time.Second), false},
		{nb.Add(80 * time.Second), nb, nb.Add(100 * time.Second), true},
	}
	for i, c := range cases {
		if got := ShouldRotate(c.now, c.notBefore, c.notAfter); got != c.want {
			t.Errorf("case %d: ShouldRotate(%v, %v, %v) = %v", i, c.now, c.notBefore, c.notAfter, got)
		}
	}
	if at := RotateAt(nb, nb.Add(10*time.Hour)); !at.Equal(nb.Add(8 * time.Hour)) {
		t.Fatalf("RotateAt = %v", at)
	}
	var h CertHolder
	if c, _ := h.GetClientCertificate(nil); c == nil || len(c.Certificate) != 0 || h.Certificate() != nil {
		t.Fatal("empty holder")
	}
}
