package hub

import (
	"fmt"
	"strings"
)

// Node identity. A node is known by the CommonName of its client certificate, "system:node:<name>", and
// belongs to the group (certificate Organization) "system:nodes", as kubelets do in Kubernetes. The name
// is never taken from anything the node says on the link.
const (
	CommonNamePrefix = "system:node:"
	NodesGroup       = "system:nodes"
)

// NodeName is the name of an edge node: a DNS-1123 subdomain, as Kubernetes requires of Node names.
type NodeName string

// ParseNodeName returns s as a NodeName if it is a DNS-1123 subdomain, or an error wrapping
// ErrBadNodeName.
func ParseNodeName(s string) (NodeName, error) {
	n := NodeName(s)
	return n, n.Validate()
}

// Validate checks that n is a DNS-1123 subdomain; errors wrap ErrBadNodeName.
func (n NodeName) Validate() error {
	if r := checkSubdomain(string(n)); r != "" {
		return fmt.Errorf("%w %s: %s", ErrBadNodeName, quote(string(n)), r)
	}
	return nil
}

// String returns the name.
func (n NodeName) String() string { return string(n) }

// CommonName returns the certificate CommonName of the node, "system:node:<name>".
func (n NodeName) CommonName() string { return CommonNamePrefix + string(n) }

// Key returns the key of the node's Node object, "/node/<name>".
func (n NodeName) Key() Key { return Key{Kind: KindNode, Name: string(n)} }

// StatusKey returns the key of the node's status, "/nodestatus/<name>".
func (n NodeName) StatusKey() Key { return Key{Kind: KindNodeStatus, Name: string(n)} }

// NodeFromCommonName returns the node named by a certificate CommonName of the form
// "system:node:<name>", or an error wrapping ErrBadCommonName (wrong form) or ErrBadNodeName.
func NodeFromCommonName(cn string) (NodeName, error) {
	name, ok := strings.CutPrefix(cn, CommonNamePrefix)
	if !ok {
		return "", fmt.Errorf("%w: %s", ErrBadCommonName, quote(cn))
	}
	n, err := ParseNodeName(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadCommonName, err)
	}
	return n, nil
}
