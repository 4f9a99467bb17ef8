package fakecri

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgehive/edgehive/internal/testenv"
)

// testRegistry is a read-only OCI distribution registry on 127.0.0.1, serving the images of OCI
// archives (testenv.WriteOCIArchive) so that PullImage can be tested against containerd, which talks
// plain HTTP to registries on localhost.
type testRegistry struct {
	Host      string            // "127.0.0.1:<port>"
	blobs     map[string][]byte // digest → content, manifests included
	manifests map[string]string // "<repository>:<tag>" → manifest digest
}

// startTestRegistry serves images: every name of every archive, which must be of the form
// "<anything>/<repository>:<tag>"; the registry ignores the host part, so names may be rewritten to
// point at it with (*testRegistry).Ref.
func startTestRegistry(t testing.TB, archives ...[]byte) *testRegistry {
	t.Helper()
	reg := &testRegistry{blobs: map[string][]byte{}, manifests: map[string]string{}}
	for _, a := range archives {
		if err := reg.add(a); err != nil {
			t.Fatalf("registry: %v", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	reg.Host = l.Addr().String()
	srv := &http.Server{Handler: reg, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return reg
}

// Ref is the reference under which the registry serves repository:tag.
func (r *testRegistry) Ref(repoTag string) string { return r.Host + "/" + repoTag }

func (r *testRegistry) add(archive []byte) error {
	tr := tar.NewReader(bytes.NewReader(archive))
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		files[hdr.Name] = b
	}
	for name, b := range files {
		if d, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && d != "" {
			r.blobs["sha256:"+d] = b
		}
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		return err
	}
	for _, m := range index.Manifests {
		name := m.Annotations["io.containerd.image.name"]
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		r.manifests[name] = m.Digest
	}
	return nil
}

// ServeHTTP answers /v2/, /v2/<repo>/manifests/<tag|digest> and /v2/<repo>/blobs/<digest>.
func (r *testRegistry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimPrefix(req.URL.Path, "/v2/")
	if path == "" || path == req.URL.Path {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		return
	}
	var digest, mediaType string
	if repo, ref, ok := strings.Cut(path, "/manifests/"); ok {
		digest = ref
		if !strings.HasPrefix(ref, "sha256:") {
			digest = r.manifests[repo+":"+ref]
		}
		mediaType = "application/vnd.oci.image.manifest.v1+json"
	} else if _, ref, ok := strings.Cut(path, "/blobs/"); ok {
		digest, mediaType = ref, "application/octet-stream"
	}
	b, ok := r.blobs[digest]
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Docker-Content-Digest", digest)
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(b))
}

// buildTestImage returns an OCI archive of a tiny image (one file) named names.
func buildTestImage(t testing.TB, names ...string) ([]byte, testenv.OCIImage) {
	t.Helper()
	var buf bytes.Buffer
	img, err := testenv.WriteOCIArchive(&buf, testenv.ImageSpec{
		Names: names,
		Files: []testenv.ImageFile{{Path: "hello.txt", Mode: 0o644, Data: []byte("hello from the edgehive test registry\n")}},
		Cmd:   []string{"/hello"},
	})
	if err != nil {
		t.Fatalf("test image: %v", err)
	}
	return buf.Bytes(), img
}
