package edged_test

import (
	"errors"
	"testing"
	"time"

	"github.com/edgehive/edgehive/edged/fakecri"
)

const fakeImage = "docker.io/library/busybox:edgehive"

// startFake starts the fake CRI runtime with the suite's image present.
func startFake(t testing.TB) *fakecri.Runtime {
	return fakecri.StartForTest(t, fakecri.Config{Images: []fakecri.Image{{Tags: []string{fakeImage}}}})
}

// fakeEnv is the suite's view of a fake runtime: the behaviour the pods' commands have on a real
// runtime is scripted instead.
func fakeEnv(rt *fakecri.Runtime) runtimeEnv {
	return runtimeEnv{
		name:     fakecri.RuntimeName,
		endpoint: rt.Endpoint(),
		image:    fakeImage,
		exits: func(_ *testing.T, ns, pod, container string, code int32, after time.Duration) {
			rt.SetBehavior(fakecri.Match{Namespace: ns, Pod: pod, Container: container},
				fakecri.Behavior{Exit: &fakecri.Exit{After: after, Code: code}})
		},
		execFails: func(_ *testing.T, ns, pod, container string) {
			rt.SetExec(fakecri.Match{Namespace: ns, Pod: pod, Container: container}, nil,
				fakecri.ExecResult{ExitCode: 1, Stderr: "cat: can't open '/nonexistent'"})
		},
		pullFails: func(_ *testing.T, image string) {
			rt.SetPull(image, fakecri.PullBehavior{Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")})
		},
	}
}

// TestManagerFake runs the pod-manager suite against the fake CRI runtime.
func TestManagerFake(t *testing.T) {
	runManagerSuite(t, fakeEnv(startFake(t)))
}
