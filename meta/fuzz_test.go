package meta_test

import (
	"errors"
	"testing"

	"github.com/edgehive/edgehive/meta"
)

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"default/pod/web", "default/pod/", "/pod/", "/node/edge-1", "/node/", "x/node/",
		"default/pod", "", "/", "//", "///", "default//", "Default/pod/x", "default/pod/a/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := meta.ParseQuery(s)
		if err != nil {
			if !errors.Is(err, meta.ErrBadQuery) {
				t.Fatalf("ParseQuery(%q): %v does not wrap ErrBadQuery", s, err)
			}
			return
		}
		if q.String() != s {
			t.Fatalf("ParseQuery(%q) = %+v, renders as %q", s, q, q.String())
		}
		if !q.List {
			if err := q.Key.Validate(); err != nil {
				t.Fatalf("ParseQuery(%q) gave an invalid key: %v", s, err)
			}
		}
	})
}
