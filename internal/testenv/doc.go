// Package testenv starts the real components that edgehive's integration tests run against — an MQTT
// broker (mosquitto), a CRI runtime (containerd with runc and CNI, with a locally built busybox image),
// and a Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager) — each on free loopback
// ports in the test's temporary directory, stopped when the test ends.
//
// A component whose binary is missing makes the test skip with a message that names the binary and how to
// install it (`make test-deps`), except under CI=true, where a missing component fails the test: CI must
// prove that a fresh machine has everything.
//
// Every helper takes a testing.TB and registers its own cleanup; nothing here is package-level state, so
// tests may start several instances side by side.
package testenv
