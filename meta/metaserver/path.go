package metaserver

import (
	"errors"
	"fmt"
	"strings"

	"github.com/edgehive/edgehive/hub"
)

// ErrBadPath is returned by ParsePath for a path that names no served resource.
var ErrBadPath = errors.New("metaserver: no such resource path")

// Request is a parsed resource path.
type Request struct {
	// Group is "" for the core group (/api/v1), else the API group (/apis/<group>/<version>).
	Group   string
	Version string
	// Resource is the plural resource name ("pods").
	Resource string
	// Namespace is empty for a cluster-scoped resource or a list across namespaces.
	Namespace string
	// Name is empty for a list (or watch).
	Name string
}

// ParsePath parses the path of a resource request:
//
//	/api/v1/<resource>                                   list (all namespaces, or cluster-scoped)
//	/api/v1/<resource>/<name>                            get of a cluster-scoped object
//	/api/v1/namespaces/<namespace>/<resource>            list in a namespace
//	/api/v1/namespaces/<namespace>/<resource>/<name>     get
//
// and the same under /apis/<group>/<version>/ for the device resources. Namespaces must be DNS-1123
// labels and names DNS-1123 subdomains. A trailing slash, an empty segment, a subresource or an unknown
// resource is an error wrapping ErrBadPath. ParsePath never panics.
func ParsePath(p string) (Request, error) {
	var req Request
	if len(p) > 1024 {
		return req, fmt.Errorf("%w: path of %d bytes", ErrBadPath, len(p))
	}
	segs := strings.Split(p, "/")
	if len(segs) < 2 || segs[0] != "" {
		return req, fmt.Errorf("%w: %q", ErrBadPath, p)
	}
	segs = segs[1:]
	for _, s := range segs {
		if s == "" {
			return req, fmt.Errorf("%w: %q: empty segment", ErrBadPath, p)
		}
	}
	switch {
	case len(segs) >= 2 && segs[0] == "api" && segs[1] == "v1":
		req.Version, segs = "v1", segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		req.Group, req.Version, segs = segs[1], segs[2], segs[3:]
	default:
		return req, fmt.Errorf("%w: %q", ErrBadPath, p)
	}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		req.Namespace, segs = segs[1], segs[2:]
	}
	switch len(segs) {
	case 1:
		req.Resource = segs[0]
	case 2:
		req.Resource, req.Name = segs[0], segs[1]
	default:
		return Request{}, fmt.Errorf("%w: %q", ErrBadPath, p)
	}
	r := findResource(req.Group, req.Version, req.Resource)
	if r == nil {
		return Request{}, fmt.Errorf("%w: %q: unknown resource", ErrBadPath, p)
	}
	switch {
	case req.Namespace != "" && !r.namespaced:
		return Request{}, fmt.Errorf("%w: %q: %s is cluster-scoped", ErrBadPath, p, r.plural)
	case req.Name != "" && req.Namespace == "" && r.namespaced:
		return Request{}, fmt.Errorf("%w: %q: %s is namespaced", ErrBadPath, p, r.plural)
	}
	// Check the namespace and name with the hub's key rules (a stand-in name for lists).
	probe := hub.Key{Namespace: req.Namespace, Kind: r.hubKind, Name: req.Name}
	if probe.Name == "" {
		probe.Name = "x"
	}
	if probe.Namespace == "" && r.namespaced {
		probe.Namespace = "x"
	}
	if err := probe.Validate(); err != nil {
		return Request{}, fmt.Errorf("%w: %q: %w", ErrBadPath, p, err)
	}
	return req, nil
}

// Path returns the request's path, the inverse of ParsePath.
func (r Request) Path() string {
	var b strings.Builder
	if r.Group == "" {
		b.WriteString("/api/" + r.Version)
	} else {
		b.WriteString("/apis/" + r.Group + "/" + r.Version)
	}
	if r.Namespace != "" {
		b.WriteString("/namespaces/" + r.Namespace)
	}
	b.WriteString("/" + r.Resource)
	if r.Name != "" {
		b.WriteString("/" + r.Name)
	}
	return b.String()
}

// Key returns the store key of a get request (Name set).
func (r Request) Key() hub.Key {
	return hub.Key{Namespace: r.Namespace, Kind: r.resource().hubKind, Name: r.Name}
}

func (r Request) resource() *resource { return findResource(r.Group, r.Version, r.Resource) }
