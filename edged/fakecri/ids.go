package fakecri

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// newID returns a runtime ID as containerd makes them: 64 random hexadecimal characters.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// digestOf returns "sha256:<hex>" of s: the fake's stand-in for content digests.
func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Errors of ID lookups; the gRPC methods turn them into containerd's codes and messages.
var (
	errNotFound    = errors.New("not found")
	errEmptyPrefix = errors.New("prefix can't be empty")
	errAmbiguous   = errors.New("multiple IDs found with provided prefix")
)

// resolveID finds the one key of m that equals id or starts with it, as containerd's truncated-ID
// index does.
func resolveID[T any](m map[string]T, id string) (string, error) {
	if id == "" {
		return "", errEmptyPrefix
	}
	if _, ok := m[id]; ok {
		return id, nil
	}
	found := ""
	for k := range m {
		if strings.HasPrefix(k, id) {
			if found != "" {
				return "", fmt.Errorf("%w: %s", errAmbiguous, id)
			}
			found = k
		}
	}
	if found == "" {
		return "", errNotFound
	}
	return found, nil
}

// lookupStatus turns an error of resolveID into a gRPC status as containerd reports it: NotFound for an
// unknown ID, Unknown for an empty or ambiguous prefix. what prefixes the message.
func lookupStatus(err error, what string) error {
	if errors.Is(err, errNotFound) {
		return status.Errorf(codes.NotFound, "%s: not found", what)
	}
	return status.Errorf(codes.Unknown, "%s: %v", what, err)
}

// toStatus turns err into a gRPC status error: a status error or a context error keeps its code, any
// other error becomes codes.Unknown with prefix (if not empty) before its text.
func toStatus(err error, prefix string) error {
	if err == nil {
		return nil
	}
	if st, ok := status.FromError(err); ok {
		if prefix == "" {
			return st.Err()
		}
		return status.Errorf(st.Code(), "%s: %s", prefix, st.Message())
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	if prefix != "" {
		return status.Errorf(codes.Unknown, "%s: %v", prefix, err)
	}
	return status.Error(codes.Unknown, err.Error())
}

// isImageID reports whether s is a full image ID: "sha256:" and 64 hexadecimal characters.
func isImageID(s string) bool {
	h, ok := strings.CutPrefix(s, "sha256:")
	return ok && len(h) == 64 && isHex(h)
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// normalizeRef completes an image reference the way Docker and containerd do: the default registry is
// docker.io, official images live under library/, and the default tag is latest.
// "busybox" → "docker.io/library/busybox:latest"; "127.0.0.1:5000/a/b:v1" is unchanged. Image IDs and
// empty strings are returned as they are.
func normalizeRef(ref string) string {
	if ref == "" || isImageID(ref) {
		return ref
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	domain, rest := "docker.io", name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		if first := name[:i]; strings.ContainsAny(first, ".:") || first == "localhost" {
			domain, rest = first, name[i+1:]
		}
	}
	if domain == "index.docker.io" {
		domain = "docker.io"
	}
	if domain == "docker.io" && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	if hasDigest {
		return domain + "/" + rest + "@" + digest
	}
	if !strings.Contains(rest, ":") {
		rest += ":latest"
	}
	return domain + "/" + rest
}

// repository returns a normalised reference without its tag and digest.
func repository(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}
