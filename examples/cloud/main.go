// Command cloud is edgehive's reference cloud process, KubeEdge's cloudcore: next to a Kubernetes API
// server it runs the cloud hub (edge nodes connect over WebSocket with mutual TLS), the join endpoint
// (edges trade a join token for a node certificate), and the edge and device controllers (pods, config
// maps, secrets and devices of edge nodes go down; node, pod and device status come back up).
//
//	cloud --kubeconfig ~/.kube/config --data-dir /var/lib/edgehive/cloud
//	cloud token --data-dir /var/lib/edgehive/cloud   # prints a join token for `edge --token`
//
// The assembly is in package cloudapp, so that tests run the whole process in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgehive/edgehive/examples/cloud/cloudapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cloudapp.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, cloudapp.ErrUsage):
		fmt.Fprintln(os.Stderr, "cloud:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "cloud:", err)
		os.Exit(1)
	}
}
