// Command quickstart runs a whole KubeEdge-style pair on this machine: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler; containerd; the edgehive cloud (examples/cloud) and one
// edge (examples/edge) joined with a token; and the thermostat simulator (examples/mapper). It applies a
// Deployment pinned to the edge node and a Device, prints where to look, and runs until Ctrl-C, stopping
// everything it started. With --check it exits 0 as soon as the sample pod runs on the edge and the
// Device has a reported value (CI runs it that way).
//
// It reuses the test harness (internal/testenv) to start the Kubernetes binaries that `make test` built
// and cached, and containerd with the local busybox image. Run it with `make quickstart` (as root).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, errHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}
