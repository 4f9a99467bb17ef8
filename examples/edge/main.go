// Command edge is edgehive's reference edge node, KubeEdge's edgecore: it keeps the cloud's objects in
// a local store (meta) served read-only by the MetaServer, runs the pods bound to the node on a CRI
// runtime (edged), keeps device twins (twin) behind an MQTT broker (eventbus, embedded broker by
// default), and links to the cloud (edgehub) after joining it with a token:
//
//	cloud token --data-dir /var/lib/edgehive/cloud          # on the cloud: prints TOKEN
//	edge --node-name edge-1 --cloud cloud.example.com:10000 --join cloud.example.com:10002 \
//	     --token TOKEN --data-dir /var/lib/edgehive/edge
//
// The local modules start at once; joining and connecting go on in the background, so the node serves
// its pods, devices and MetaServer also while the cloud is away. The assembly is in package
// edgeapp, so that tests run the whole process in-process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgehive/edgehive/examples/edge/edgeapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := edgeapp.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, edgeapp.ErrUsage):
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}
