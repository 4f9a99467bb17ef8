// Package cri is edged's client of a CRI (Container Runtime Interface, k8s.io/cri-api v1) runtime:
// containerd, CRI-O, or edged's fake runtime, over gRPC on a unix socket.
//
// # Use
//
//	c, err := cri.Dial(ctx, cri.Config{Endpoint: "unix:///run/containerd/containerd.sock"})
//	if err != nil { ... }          // errors.Is(err, cri.ErrNoRuntime) / cri.ErrUnsupportedAPI
//	defer c.Close()
//	c.Runtime.RunPodSandbox(ctx, ...) // runtimeapi.RuntimeServiceClient
//	c.Image.PullImage(ctx, ...)       // runtimeapi.ImageServiceClient
//
// # Guarantees
//
//   - Dial returns only after the runtime answered Version with the runtime API "v1"; the answer is kept
//     in Client.Version. A missing socket, or one nobody listens on, is ErrNoRuntime; a server that does
//     not implement CRI v1 (another gRPC service, an older CRI, not gRPC at all) is ErrUnsupportedAPI.
//   - Every call takes the caller's context; Client adds no timeout of its own to RPCs.
//   - Close is safe to call twice.
//
// # Not supported yet
//
// TCP endpoints (only unix sockets), separate runtime and image endpoints, streaming calls (Exec, Attach,
// PortForward: only ExecSync is used by edged).
package cri
