package cloudhub

import (
	"fmt"
	"strings"

	"github.com/edgehive/edgehive/hub"
)

// resourcePrefix begins the Router.Resource of messages to and from the cloud hub.
const resourcePrefix = "node/"

// NodeResource returns the Router.Resource naming key on node, "node/<node>/<key>", the form of every
// downstream message sent to the cloud hub and of every upstream message it delivers. A cluster-scoped
// key begins with '/', so it shows as "node/edge-1//node/edge-1".
func NodeResource(node hub.NodeName, key hub.Key) string {
	return resourcePrefix + string(node) + "/" + key.String()
}

// ParseNodeResource splits a "node/<node>/<key>" resource. The key part may be empty (a message for
// the node that names no object); it is otherwise parsed with hub.ParseKey.
func ParseNodeResource(s string) (hub.NodeName, hub.Key, error) {
	rest, ok := strings.CutPrefix(s, resourcePrefix)
	if !ok {
		return "", hub.Key{}, fmt.Errorf("%w: resource %q does not begin with %q", ErrBadResource, s, resourcePrefix)
	}
	name, keyStr, ok := strings.Cut(rest, "/")
	if !ok {
		return "", hub.Key{}, fmt.Errorf("%w: resource %q has no key", ErrBadResource, s)
	}
	node, err := hub.ParseNodeName(name)
	if err != nil {
		return "", hub.Key{}, fmt.Errorf("%w: %w", ErrBadResource, err)
	}
	if keyStr == "" {
		return node, hub.Key{}, nil
	}
	key, err := hub.ParseKey(keyStr)
	if err != nil {
		return "", hub.Key{}, fmt.Errorf("%w: %w", ErrBadResource, err)
	}
	return node, key, nil
}
