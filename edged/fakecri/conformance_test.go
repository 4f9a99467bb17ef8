package fakecri

import (
	"testing"

	"github.com/edgehive/edgehive/internal/testenv"
)

// TestConformanceFake runs the conformance suite against the fake, scripted by ConformanceScript.
func TestConformanceFake(t *testing.T) {
	t.Parallel()
	const registry = "registry.conformance.test:5000/edgehive/tiny"
	rt := StartForTest(t, Config{
		Images:  []Image{{Tags: []string{testenv.BusyboxImage, testenv.PauseImage}}},
		PodCIDR: "10.99.0.0/24",
		Script:  ConformanceScript(),
	})
	rt.SetPull(registry+":missing", PullBehavior{Err: ErrImageNotFound})
	RunCRIConformance(t, ConformanceConfig{
		Endpoint:     rt.Endpoint(),
		Image:        testenv.BusyboxImage,
		LogDir:       t.TempDir(),
		PodCIDR:      "10.99.0.0/24",
		PullImage:    registry + ":v1",
		MissingImage: registry + ":missing",
	})
}

// TestConformanceContainerd runs the same suite against a real containerd, with an image registry on
// 127.0.0.1 for the pull steps: what the fake does, containerd does too.
func TestConformanceContainerd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts containerd; not in -short")
	}
	c := testenv.StartContainerd(t)
	archive, _ := buildTestImage(t, "conformance.test/edgehive/tiny:v1")
	reg := startTestRegistry(t, archive)
	RunCRIConformance(t, ConformanceConfig{
		Endpoint:     c.Endpoint,
		Image:        c.Image,
		LogDir:       c.LogRoot,
		PodCIDR:      c.PodCIDR,
		PullImage:    reg.Ref("edgehive/tiny:v1"),
		MissingImage: reg.Ref("edgehive/tiny:missing"),
	})
}
