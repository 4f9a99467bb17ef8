package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// No registry can be reached from the test machines, so the images that containerd runs are built here,
// by hand, as OCI image-layout archives that `ctr images import` accepts.

const (
	// BusyboxImage is the name under which BuildBusyboxImage tags the busybox image by default.
	BusyboxImage = "docker.io/library/busybox:edgehive"
	// PauseImage is a second name of the same busybox image, used as containerd's sandbox_image. Its
	// default command (`sleep 2147483647`) keeps the sandbox alive the way registry.k8s.io/pause does.
	PauseImage = "registry.k8s.io/pause:edgehive"

	// busyboxPath is the statically linked busybox of Debian's busybox-static package.
	busyboxPath = "/bin/busybox"
)

// Media types and annotations of the OCI image specification and containerd.
const (
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"

	// annotationImageName is the full reference `ctr images import` names an image by.
	annotationImageName = "io.containerd.image.name"
	// annotationRefName is the OCI layout's reference (the tag); other tools read this one.
	annotationRefName = "org.opencontainers.image.ref.name"
)

// imageEpoch is the fixed time stamped on every file and on the image config, so that building the
// same content twice gives the same digests.
var imageEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// ImageFile is one entry of an image's single layer.
type ImageFile struct {
	Path string      // slash-separated, relative to the root: "bin/busybox"
	Mode fs.FileMode // permission bits plus fs.ModeDir or fs.ModeSymlink; zero type means a regular file
	Data []byte      // content of a regular file
	Link string      // target of a symlink
}

// ImageSpec is what WriteOCIArchive builds: one layer holding Files and a config running Entrypoint+Cmd.
type ImageSpec struct {
	Names        []string // full references, e.g. "docker.io/library/busybox:edgehive"; at least one
	Files        []ImageFile
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	Architecture string // GOARCH spelling, as OCI uses it; default runtime.GOARCH
	OS           string // default "linux"
}

// OCIImage describes a built image archive.
type OCIImage struct {
	Path           string   // the archive, when written to a file
	Names          []string // the references the archive carries
	ManifestDigest string   // "sha256:…" of the manifest
	ConfigDigest   string   // "sha256:…" of the config: the image ID that CRI reports
	LayerDigest    string   // "sha256:…" of the gzipped layer
	DiffID         string   // "sha256:…" of the uncompressed layer
}

// ociDescriptor, ociManifest, ociIndex and ociConfig are the subset of the OCI image specification
// that the builder writes.
type ociDescriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *ociPlatform      `json:"platform,omitempty"`
}

type ociPlatform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type ociManifest struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Config        ociDescriptor   `json:"config"`
	Layers        []ociDescriptor `json:"layers"`
}

type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType"`
	Manifests     []ociDescriptor `json:"manifests"`
}

type ociConfig struct {
	Created      time.Time       `json:"created"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Config       ociRunConfig    `json:"config"`
	RootFS       ociRootFS       `json:"rootfs"`
	History      []ociHistoryRow `json:"history,omitempty"`
}

type ociRunConfig struct {
	Env        []string `json:"Env,omitempty"`
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
}

type ociRootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type ociHistoryRow struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// ErrImageSpec reports an ImageSpec that cannot be built.
var ErrImageSpec = errors.New("testenv: invalid image spec")

// WriteOCIArchive writes spec as a tar archive in OCI image layout (oci-layout, index.json, blobs/sha256)
// to w. The output depends only on spec: every time stamp is fixed and files keep the given order.
func WriteOCIArchive(w io.Writer, spec ImageSpec) (OCIImage, error) {
	if len(spec.Names) == 0 {
		return OCIImage{}, fmt.Errorf("%w: no image name", ErrImageSpec)
	}
	if spec.Architecture == "" {
		spec.Architecture = runtime.GOARCH
	}
	if spec.OS == "" {
		spec.OS = "linux"
	}

	layerTar, err := layerArchive(spec.Files)
	if err != nil {
		return OCIImage{}, err
	}
	layer, err := gzipBytes(layerTar)
	if err != nil {
		return OCIImage{}, err
	}
	diffID := digestOf(layerTar)

	config, err := json.Marshal(ociConfig{
		Created:      imageEpoch,
		Architecture: spec.Architecture,
		OS:           spec.OS,
		Config: ociRunConfig{
			Env: spec.Env, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, WorkingDir: spec.WorkingDir,
		},
		RootFS:  ociRootFS{Type: "layers", DiffIDs: []string{diffID}},
		History: []ociHistoryRow{{Created: imageEpoch, CreatedBy: "edgehive testenv.WriteOCIArchive"}},
	})
	if err != nil {
		return OCIImage{}, fmt.Errorf("image config: %w", err)
	}
	manifest, err := json.Marshal(ociManifest{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		Config:        ociDescriptor{MediaType: mediaTypeConfig, Digest: digestOf(config), Size: int64(len(config))},
		Layers:        []ociDescriptor{{MediaType: mediaTypeLayer, Digest: digestOf(layer), Size: int64(len(layer))}},
	})
	if err != nil {
		return OCIImage{}, fmt.Errorf("image manifest: %w", err)
	}

	// One index entry per name, all pointing at the same manifest: containerd creates one image record
	// per entry that carries io.containerd.image.name.
	index := ociIndex{SchemaVersion: 2, MediaType: mediaTypeIndex}
	for _, name := range spec.Names {
		index.Manifests = append(index.Manifests, ociDescriptor{
			MediaType: mediaTypeManifest,
			Digest:    digestOf(manifest),
			Size:      int64(len(manifest)),
			Annotations: map[string]string{
				annotationImageName: name,
				annotationRefName:   refName(name),
			},
			Platform: &ociPlatform{Architecture: spec.Architecture, OS: spec.OS},
		})
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return OCIImage{}, fmt.Errorf("image index: %w", err)
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", indexJSON},
		{blobPath(digestOf(manifest)), manifest},
		{blobPath(digestOf(config)), config},
		{blobPath(digestOf(layer)), layer},
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(fixedHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755})); err != nil {
			return OCIImage{}, fmt.Errorf("image archive: %w", err)
		}
	}
	for _, e := range entries {
		hdr := fixedHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data))})
		if err := tw.WriteHeader(hdr); err != nil {
			return OCIImage{}, fmt.Errorf("image archive: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return OCIImage{}, fmt.Errorf("image archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return OCIImage{}, fmt.Errorf("image archive: %w", err)
	}
	return OCIImage{
		Names:          append([]string(nil), spec.Names...),
		ManifestDigest: digestOf(manifest),
		ConfigDigest:   digestOf(config),
		LayerDigest:    digestOf(layer),
		DiffID:         diffID,
	}, nil
}

// layerArchive returns the uncompressed layer tar of files.
func layerArchive(files []ImageFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		name := strings.TrimPrefix(f.Path, "/")
		if name == "" || strings.HasPrefix(name, "../") || strings.Contains(name, "/../") {
			return nil, fmt.Errorf("%w: bad path %q", ErrImageSpec, f.Path)
		}
		// tar keeps the setuid, setgid and sticky bits in the Unix octal encoding, not in fs.FileMode's.
		hdr := &tar.Header{Name: name, Mode: int64(f.Mode.Perm())}
		for bit, octal := range map[fs.FileMode]int64{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
			if f.Mode&bit != 0 {
				hdr.Mode |= octal
			}
		}
		switch {
		case f.Mode.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case f.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Link
		case f.Mode.IsRegular():
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Data))
		default:
			return nil, fmt.Errorf("%w: %s: unsupported mode %v", ErrImageSpec, f.Path, f.Mode)
		}
		if err := tw.WriteHeader(fixedHeader(hdr)); err != nil {
			return nil, fmt.Errorf("layer %s: %w", f.Path, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, fmt.Errorf("layer %s: %w", f.Path, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return buf.Bytes(), nil
}

// fixedHeader makes a tar header reproducible: fixed times, root owner, no user or group names, and
// the USTAR format (no PAX records carrying access times).
func fixedHeader(h *tar.Header) *tar.Header {
	h.ModTime = imageEpoch
	h.Uid, h.Gid = 0, 0
	h.Uname, h.Gname = "", ""
	h.Format = tar.FormatUSTAR
	return h
}

// gzipBytes compresses b with no name and no time in the gzip header: compress/gzip then depends only
// on its input.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip layer: %w", err)
	}
	return buf.Bytes(), nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(digest string) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest, "sha256:")
}

// refName is the tag of a reference ("docker.io/library/busybox:edgehive" → "edgehive"), or the whole
// reference when it has no tag.
func refName(ref string) string {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[i+1:]
	}
	return ref
}

// BuildBusyboxImage writes <dir>/busybox.tar, an OCI image archive of Debian's static /bin/busybox with
// a symlink in /bin for every applet, tagged with names (default BusyboxImage and PauseImage). The
// image's default command is `sleep 2147483647`, so it also serves as the CRI pause image; it is set as
// Cmd, not Entrypoint, so that a container giving only Args still runs what it asks for. Building twice
// gives the same digests. It does not need root. A missing /bin/busybox stops the test through Missing.
func BuildBusyboxImage(t TB, dir string, names ...string) OCIImage {
	t.Helper()
	if len(names) == 0 {
		names = []string{BusyboxImage, PauseImage}
	}
	files, err := busyboxFiles(busyboxPath)
	if errors.Is(err, fs.ErrNotExist) {
		Missing(t, "requires a static %s (apt-get install -y busybox-static): %v", busyboxPath, err)
	}
	if err != nil {
		t.Fatalf("busybox image: %v", err)
	}
	path := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("busybox image: %v", err)
	}
	img, err := WriteOCIArchive(f, ImageSpec{
		Names:      names,
		Files:      files,
		Cmd:        []string{"sleep", "2147483647"},
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		WorkingDir: "/",
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("busybox image: %v", err)
	}
	img.Path = path
	return img
}

// busyboxFiles returns the layer content of the busybox image: a minimal root with /etc/passwd and
// /etc/group, the binary, and sorted applet symlinks.
func busyboxFiles(bin string) ([]ImageFile, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	// A dynamically linked busybox (Debian's "busybox" rather than "busybox-static") would start in the
	// host but fail inside the image, which has no libc: refuse it here with a clear message.
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", bin, err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked; install busybox-static: %w", bin, fs.ErrNotExist)
		}
	}
	out, err := exec.Command(bin, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", bin, err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)

	files := []ImageFile{
		{Path: "bin", Mode: fs.ModeDir | 0o755},
		{Path: "bin/busybox", Mode: 0o755, Data: data},
		{Path: "dev", Mode: fs.ModeDir | 0o755},
		{Path: "etc", Mode: fs.ModeDir | 0o755},
		{Path: "etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{Path: "etc/passwd", Mode: 0o644, Data: []byte(
			"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "proc", Mode: fs.ModeDir | 0o755},
		{Path: "root", Mode: fs.ModeDir | 0o700},
		{Path: "sys", Mode: fs.ModeDir | 0o755},
		{Path: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "var", Mode: fs.ModeDir | 0o755},
	}
	seen := map[string]bool{"busybox": true}
	for _, a := range applets {
		if seen[a] || strings.ContainsAny(a, "/.") {
			continue
		}
		seen[a] = true
		files = append(files, ImageFile{Path: "bin/" + a, Mode: fs.ModeSymlink | 0o777, Link: "busybox"})
	}
	return files, nil
}
