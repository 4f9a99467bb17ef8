package meta

import "strconv"

// Order is how an incoming resourceVersion relates to the one held for the same key.
type Order int

const (
	// Older: the incoming version is older than the held one; the write is ignored (ErrStale).
	Older Order = -1
	// Same: the same version; the write is a no-op (a resend after a lost acknowledgement).
	Same Order = 0
	// Newer: the incoming version replaces the held one.
	Newer Order = 1
)

// CompareVersions tells how incoming relates to held. Kubernetes resourceVersions are opaque strings,
// but in practice they are decimal integers (etcd revisions). The rule:
//
//   - equal strings are Same;
//   - when both parse as unsigned decimal integers, they are compared as numbers ("9" < "10");
//   - otherwise, any difference is Newer: the cloud is the source of truth, and it sends the versions of
//     one key in order.
//
// The empty string is not a number, so "" against "5" is Newer in either direction.
func CompareVersions(held, incoming string) Order {
	if held == incoming {
		return Same
	}
	h, err1 := strconv.ParseUint(held, 10, 64)
	i, err2 := strconv.ParseUint(incoming, 10, 64)
	if err1 != nil || err2 != nil {
		return Newer
	}
	switch {
	case i < h:
		return Older
	case i > h:
		return Newer
	}
	return Same // "007" and "7"
}
