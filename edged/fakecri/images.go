package fakecri

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// image is an image in the store.
type image struct {
	id      string
	tags    []string // normalised, sorted
	digests []string // sorted
	size    uint64
	user    string
	pinned  bool
}

func (img *image) proto() *runtimeapi.Image {
	p := &runtimeapi.Image{
		Id:          img.id,
		RepoTags:    slices.Clone(img.tags),
		RepoDigests: slices.Clone(img.digests),
		Size:        img.size,
		Pinned:      img.pinned,
	}
	if user, _, _ := strings.Cut(img.user, ":"); user != "" {
		if uid, err := strconv.ParseInt(user, 10, 64); err == nil {
			p.Uid = &runtimeapi.Int64Value{Value: uid}
		} else {
			p.Username = user
		}
	}
	return p
}

func (img *image) public() Image {
	return Image{Tags: slices.Clone(img.tags), ID: img.id, Digests: slices.Clone(img.digests),
		Size: img.size, User: img.user, Pinned: img.pinned}
}

// displayName is the name containerd reports as a container's image: the image's first tag, else ref.
func (img *image) displayName(ref string) string {
	if img != nil && len(img.tags) > 0 {
		return img.tags[0]
	}
	return ref
}

// imageRef is what containerd reports as a container's image_ref: the first repo digest, else the ID.
func (img *image) imageRef() string {
	if len(img.digests) > 0 {
		return img.digests[0]
	}
	return img.id
}

// addImageLocked stores img: with a new ID it is a new image; with a known ID its tags and digests
// join the image's. A tag moves from any other image to this one, as in a registry. r.mu is held.
func (r *Runtime) addImageLocked(in Image) *image {
	tags := make([]string, 0, len(in.Tags))
	var digests []string
	for _, t := range in.Tags {
		if n := normalizeRef(t); strings.Contains(n, "@") {
			digests = append(digests, n)
		} else if n != "" {
			tags = append(tags, n)
		}
	}
	for _, d := range in.Digests {
		digests = append(digests, normalizeRef(d))
	}
	id := in.ID
	if id == "" {
		first := ""
		if len(tags) > 0 {
			first = tags[0]
		} else if len(digests) > 0 {
			first = digests[0]
		}
		id = digestOf("fakecri-image\x00" + first)
	}
	for _, other := range r.images {
		if other.id != id {
			other.tags = slices.DeleteFunc(other.tags, func(t string) bool { return slices.Contains(tags, t) })
		}
	}
	img := r.images[id]
	if img == nil {
		img = &image{id: id, size: in.Size, user: in.User}
		if img.size == 0 {
			img.size = DefaultImageSize
		}
		r.images[id] = img
	}
	img.pinned = img.pinned || in.Pinned
	img.tags = sortedUnion(img.tags, tags)
	img.digests = sortedUnion(img.digests, digests)
	return img
}

func sortedUnion(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// resolveImageLocked finds an image as containerd does: by ID, by (normalised) tag or repo digest, or
// by a unique prefix of its ID's hexadecimal part. r.mu is held.
func (r *Runtime) resolveImageLocked(ref string) *image {
	if ref == "" {
		return nil
	}
	if isImageID(ref) {
		return r.images[ref]
	}
	n := normalizeRef(ref)
	for _, img := range r.images {
		if slices.Contains(img.tags, n) || slices.Contains(img.digests, n) {
			return img
		}
	}
	short := strings.TrimPrefix(ref, "sha256:")
	if !isHex(short) {
		return nil
	}
	var found *image
	for _, img := range r.images {
		if strings.HasPrefix(strings.TrimPrefix(img.id, "sha256:"), short) {
			if found != nil {
				return nil // ambiguous
			}
			found = img
		}
	}
	return found
}

// AddImage makes an image present, as if it had been pulled.
func (r *Runtime) AddImage(img Image) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addImageLocked(img)
}

// Images returns the images present, sorted by first tag (then ID).
func (r *Runtime) Images() []Image {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Image, 0, len(r.images))
	for _, img := range r.sortedImagesLocked() {
		out = append(out, img.public())
	}
	return out
}

func (r *Runtime) sortedImagesLocked() []*image {
	out := make([]*image, 0, len(r.images))
	for _, img := range r.images {
		out = append(out, img)
	}
	slices.SortFunc(out, func(a, b *image) int {
		return strings.Compare(a.displayName(a.id), b.displayName(b.id))
	})
	return out
}

func (s *imageService) listImages(filter *runtimeapi.ImageFilter) []*runtimeapi.Image {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.Image
	if ref := filter.GetImage().GetImage(); ref != "" {
		if img := r.resolveImageLocked(ref); img != nil {
			out = append(out, img.proto())
		}
		return out
	}
	for _, img := range r.sortedImagesLocked() {
		out = append(out, img.proto())
	}
	return out
}

// ListImages lists the images, or the one the filter names.
func (s *imageService) ListImages(_ context.Context, req *runtimeapi.ListImagesRequest) (*runtimeapi.ListImagesResponse, error) {
	return &runtimeapi.ListImagesResponse{Images: s.listImages(req.GetFilter())}, nil
}

// StreamImages sends what ListImages returns, in chunks.
func (s *imageService) StreamImages(req *runtimeapi.StreamImagesRequest, stream grpc.ServerStreamingServer[runtimeapi.StreamImagesResponse]) error {
	return sendChunks(stream, s.listImages(req.GetFilter()), func(items []*runtimeapi.Image) *runtimeapi.StreamImagesResponse {
		return &runtimeapi.StreamImagesResponse{Images: items}
	})
}

// ImageStatus returns the image, or a response without image when it is absent.
func (s *imageService) ImageStatus(_ context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	img := r.resolveImageLocked(req.GetImage().GetImage())
	if img == nil {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: img.proto()}, nil
}

// PullImage stores the image as scripted (by default it always succeeds) and returns its ID.
func (s *imageService) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	r := s.r
	ref := req.GetImage().GetImage()
	if ref == "" || isImageID(ref) {
		return nil, status.Errorf(codes.Unknown, "failed to pull and unpack image %q: invalid reference format", ref)
	}
	n := normalizeRef(ref)
	b, _ := r.script.pull(n)
	if err := sleep(ctx, b.Delay); err != nil {
		return nil, toStatus(err, "")
	}
	if b.Err != nil {
		if errors.Is(b.Err, ErrImageNotFound) {
			return nil, status.Errorf(codes.NotFound, "failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", n, n, n)
		}
		return nil, toStatus(b.Err, fmt.Sprintf("failed to pull and unpack image %q", n))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	in := b.Image
	in.Tags = append(slices.Clone(in.Tags), n)
	if in.ID == "" {
		if img := r.resolveImageLocked(n); img != nil {
			return &runtimeapi.PullImageResponse{ImageRef: img.id}, nil
		}
		if !strings.Contains(n, "@") {
			in.Digests = append(in.Digests, repository(n)+"@"+digestOf("fakecri-manifest\x00"+n))
		}
	}
	return &runtimeapi.PullImageResponse{ImageRef: r.addImageLocked(in).id}, nil
}

// RemoveImage removes the image with all its tags, as containerd does; an absent image is no error.
// Containers that use the image keep running.
func (s *imageService) RemoveImage(_ context.Context, req *runtimeapi.RemoveImageRequest) (*runtimeapi.RemoveImageResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if img := r.resolveImageLocked(req.GetImage().GetImage()); img != nil {
		delete(r.images, img.id)
	}
	return &runtimeapi.RemoveImageResponse{}, nil
}

// ImageFsInfo reports one image filesystem holding the images' sizes, one inode per image.
func (s *imageService) ImageFsInfo(context.Context, *runtimeapi.ImageFsInfoRequest) (*runtimeapi.ImageFsInfoResponse, error) {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	var used uint64
	for _, img := range r.images {
		used += img.size
	}
	return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
		Timestamp:  r.now().UnixNano(),
		FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: r.cfg.ImageFsMountpoint},
		UsedBytes:  &runtimeapi.UInt64Value{Value: used},
		InodesUsed: &runtimeapi.UInt64Value{Value: uint64(len(r.images))},
	}}}, nil
}

// streamChunk is how many items a Stream* response carries at most.
const streamChunk = 100

// sendChunks sends items in responses of at most streamChunk items, none when there are no items.
func sendChunks[T any, R any](stream grpc.ServerStreamingServer[R], items []T, wrap func([]T) *R) error {
	for len(items) > 0 {
		n := min(len(items), streamChunk)
		if err := stream.Send(wrap(items[:n])); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}
