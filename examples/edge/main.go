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
//
// Memory: unless the GOMEMLIMIT environment variable sets a limit of the operator's, the command keeps
// the Go runtime's soft memory limit at max(16 MiB, 2.5 × the live heap), re-read every 2 s, so that
// the memory taken in a burst (a resync of many pods and devices) goes back to the OS once the burst
// is over. The limit follows the live heap, so it never makes the collector run more often than GOGC
// does. GOMEMLIMIT=off (or any value) turns this off; GOGC is honoured as usual.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/edgehive/edgehive/examples/edge/edgeapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var wg sync.WaitGroup
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		gov := memoryGovernor{Floor: DefaultMemoryFloor, Ratio: DefaultMemoryRatio, Interval: DefaultMemoryInterval}
		wg.Go(func() { gov.run(ctx) })
	}
	err := edgeapp.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	wg.Wait()
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
