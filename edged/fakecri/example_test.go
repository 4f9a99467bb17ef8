package fakecri_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/edgehive/edgehive/edged/fakecri"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// A fake runtime whose "job" containers exit with code 3, driven by a CRI client over its socket. In
// a test, fakecri.StartForTest does the set-up and the clean-up.
func Example() {
	dir, err := os.MkdirTemp("", "fcri")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	rt := fakecri.New(fakecri.Config{
		SocketPath: filepath.Join(dir, "cri.sock"),
		Images:     []fakecri.Image{{Tags: []string{"busybox:1.36"}}},
		Script: fakecri.Script{Containers: []fakecri.ContainerRule{{
			Match:    fakecri.Match{Container: "job"},
			Behavior: fakecri.Behavior{Log: fakecri.StdoutLines("working"), Exit: &fakecri.Exit{Code: 3}},
		}}},
	})
	ctx := context.Background()
	if err := rt.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	conn, err := grpc.NewClient(rt.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := runtimeapi.NewRuntimeServiceClient(conn)

	podConfig := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "default", Uid: "1234"},
	}
	pod, err := client.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: podConfig})
	if err != nil {
		log.Fatal(err)
	}
	created, err := client.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  pod.GetPodSandboxId(),
		SandboxConfig: podConfig,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "job"},
			Image:    &runtimeapi.ImageSpec{Image: "busybox:1.36"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.GetContainerId()}); err != nil {
		log.Fatal(err)
	}
	st, err := client.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: created.GetContainerId()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.GetStatus().GetState(), st.GetStatus().GetExitCode(), st.GetStatus().GetReason())
	fmt.Println("StartContainer calls for pod web:", rt.CallCount("StartContainer", fakecri.Match{Pod: "web"}))
	// Output:
	// CONTAINER_EXITED 3 Error
	// StartContainer calls for pod web: 1
}
