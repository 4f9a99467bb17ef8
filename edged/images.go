package edged

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// waitingError is why a container cannot run yet: the Reason and Message of its Waiting state.
type waitingError struct {
	reason, msg string
	retry       time.Duration // when to try again; 0 for the next resync
}

func (e *waitingError) Error() string { return e.reason + ": " + e.msg }

// pullPolicy is the container's policy, or Kubernetes' default for its image: Always for ":latest" or
// no tag, IfNotPresent otherwise.
func pullPolicy(c *corev1.Container) corev1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	ref := c.Image
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		return corev1.PullIfNotPresent
	}
	tag := ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		tag = ref[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// ensureImage makes c's image present according to its pull policy and returns the image reference to
// create the container from (the runtime's image ID). A failure is a *waitingError with kubelet's reason.
func (w *podWorker) ensureImage(ctx context.Context, pod *corev1.Pod, c *corev1.Container, sandbox *runtimeapi.PodSandboxConfig) (string, error) {
	m := w.m
	if c.Image == "" {
		return "", &waitingError{reason: ReasonInvalidImageName, msg: "container has no image"}
	}
	spec := &runtimeapi.ImageSpec{Image: c.Image}
	policy := pullPolicy(c)
	if policy != corev1.PullAlways {
		id, present, err := m.images.status(ctx, c.Image, func(ctx context.Context) (string, bool, error) {
			rctx, cancel := context.WithTimeout(ctx, m.cfg.RuntimeRequestTimeout)
			defer cancel()
			st, err := m.rt.Image.ImageStatus(rctx, &runtimeapi.ImageStatusRequest{Image: spec})
			return st.GetImage().GetId(), st.GetImage() != nil, err
		})
		if err != nil {
			return "", fmt.Errorf("image status %s: %w", c.Image, err)
		}
		if present {
			return id, nil
		}
		if policy == corev1.PullNever {
			return "", &waitingError{reason: ReasonErrImageNeverPull,
				msg: fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)}
		}
	}
	now := time.Now()
	if e := w.pullBackoff.entries[c.Image]; e != nil {
		if d := w.pullBackoff.wait(c.Image, e.last, now); d > 0 {
			return "", &waitingError{reason: ReasonImagePullBackOff,
				msg: fmt.Sprintf("Back-off pulling image %q", c.Image), retry: d}
		}
	}
	pctx, cancel := context.WithTimeout(ctx, m.cfg.ImagePullTimeout)
	defer cancel()
	resp, err := m.rt.Image.PullImage(pctx, &runtimeapi.PullImageRequest{Image: spec, SandboxConfig: sandbox})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		d := w.pullBackoff.next(c.Image, time.Now())
		return "", &waitingError{reason: ReasonErrImagePull,
			msg: fmt.Sprintf("failed to pull image %q: %v", c.Image, grpcMessage(err)), retry: d}
	}
	w.pullBackoff.reset(c.Image)
	ref := resp.GetImageRef()
	// The runtime's image ID is the stable reference; a pull answers with a digest reference.
	rctx, cancel2 := context.WithTimeout(ctx, m.cfg.RuntimeRequestTimeout)
	defer cancel2()
	if st, err := m.rt.Image.ImageStatus(rctx, &runtimeapi.ImageStatusRequest{Image: spec}); err == nil && st.GetImage() != nil {
		ref = st.GetImage().GetId()
		m.images.set(c.Image, ref)
	}
	return ref, nil
}
