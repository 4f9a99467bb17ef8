// Package edged runs pods on the edge over CRI: KubeEdge's edged (a trimmed kubelet) as a library and a
// beehive module.
//
// # Use
//
// As a beehive module (the edge binary):
//
//	mod, err := edged.NewModule(edged.ModuleConfig{
//		Runtime: cri.Config{Endpoint: "unix:///run/containerd/containerd.sock"},
//		Manager: edged.Config{DataDir: "/var/lib/edgehive/edged", NodeName: "edge-1", NodeIP: "192.168.1.20"},
//		Source:  metaStore, // a PodSource: pods, configmaps and secrets stored before a restart
//		NodeStatus: &edged.NodeStatusConfig{ReportOn: []beehive.Operation{edgehub.OpCloudConnected}},
//	})
//	hive.Add(mod)
//
// The module receives "<namespace>/pod|configmap|secret/<name>" messages (insert, update, delete; the
// object's JSON as content) and sends to "edgehub" each pod's newest status, the final delete of each
// pod deleted through its deletionTimestamp once it is gone from the runtime, and, with NodeStatus,
// the node's registration, status and lease (see messages.go for the contract). As a library, without
// beehive:
//
//	rt, err := cri.Dial(ctx, cri.Config{Endpoint: endpoint})
//	m, err := edged.NewManager(edged.Config{DataDir: dir}, rt)
//	go m.Run(ctx)
//	m.UpdateConfigMap(cm); m.UpdatePod(pod); m.MarkSourcesReady()
//	<-m.StatusChanged(); for _, s := range m.TakeStatuses() { ... }; for _, d := range m.TakeDeleted() { ... }
//	m.DeletePod(ns, name)
//	b, err := edged.NewNodeStatusBuilder(edged.NodeStatusConfig{}, cfg, rt); status := b.Build(ctx)
//
// # How it works
//
// One worker goroutine per pod compares the runtime with the pod's spec and acts: image present or
// pulled by imagePullPolicy; a sandbox (the node's network, or the runtime's CNI); init containers one
// after the other; then the containers, with command, args, env (values, ConfigMap and Secret keys,
// envFrom, the downward API: metadata.name/namespace/uid/labels/annotations, status.podIP/hostIP,
// spec.nodeName, spec.serviceAccountName), working dir, host ports, CPU and memory limits (CFS shares,
// quota and period, memory limit), security context (user, group, privileged, read-only root
// filesystem, capabilities, no_new_privs) and volumes (configMap, secret, emptyDir, hostPath with its type
// checks, downwardAPI, projected configMap/secret/downwardAPI). ConfigMap and Secret volumes are written
// under DataDir the way kubelet writes them (files linked through a "..data" symlink switched in one
// rename), so a changed ConfigMap reaches the running container's files. A worker syncs when its pod or
// an object it uses changes, when a probe result changes, when a back-off it waits for ends, and every
// ResyncInterval.
//
// A worker's first sync of a pod the runtime held nothing of when Run started (and that this manager
// has not run since) skips listing the runtime; every later sync lists the pod's sandboxes and
// containers. A present image's ID is cached for a few seconds, so that pods of one image started
// together ask ImageStatus once; a CreateContainer failure drops the entry. The pod's log directories
// are made while the runtime makes its sandbox.
//
// Containers that exit are restarted by restartPolicy (Always, OnFailure, Never) with kubelet's
// CrashLoopBackOff (BackoffInitial doubling up to BackoffMax); failed pulls back off the same way
// (ImagePullBackOff). Liveness, readiness and startup probes run exec (ExecSync), httpGet and tcpSocket
// checks; a failed liveness or startup probe restarts the container, readiness decides Ready. Deleting a
// pod stops its containers with the pod's grace period (SIGTERM, then SIGKILL), and removes its
// containers, sandbox, directory and logs; then the pod is reported deleted (TakeDeleted), and the module
// sends the cloud the final delete of a pod that came with a deletionTimestamp (kubelet's delete with
// grace 0, which lets the API server forget the Terminating pod).
//
// # Node status and lease
//
// With ModuleConfig.NodeStatus, the module registers the node ("/node/<name>" insert), then sends its
// status when it changed (checked every UpdateInterval, sent at least every ReportInterval, and at once
// on a ReportOn notice such as the edge hub's "cloud-connected") and renews its lease every
// LeaseRenewInterval (a coordination.k8s.io/v1 LeaseSpec with the holder and leaseDurationSeconds;
// the cloud stamps renewTime with its own clock). NodeStatusBuilder computes the status, as kubelet:
// capacity (cpu from /sys/devices/system/cpu/online, memory from /proc/meminfo, pods = MaxPods,
// ephemeral-storage from statfs of the data dir) and allocatable (capacity minus Reserved and the
// memory and disk eviction thresholds); conditions Ready (the runtime answers Version and Status with
// RuntimeReady and NetworkReady), MemoryPressure (MemAvailable under MemoryAvailableMin), DiskPressure
// (the data dir's filesystem under DiskAvailableMinPercent free space or InodesFreeMinPercent free
// inodes) and PIDPressure (fewer than PIDAvailableMinPercent of min(pid_max, threads-max) left, threads
// counted from /proc/loadavg), Unknown when the machine cannot be read; addresses (InternalIP = NodeIP,
// Hostname); nodeInfo (kernel, OS image from /etc/os-release, OS and architecture, machine ID, system
// UUID, boot ID, "<runtime>://<version>" from CRI Version, KubeletVersion); and the runtime's images
// (ListImages: tags and digests as names, sizes; the MaxNodeStatusImages largest). Condition times are
// left to the cloud.
//
// # Guarantees
//
//   - Everything the manager creates carries kubelet's labels (io.kubernetes.pod.uid, .name, .namespace,
//     io.kubernetes.container.name) and LabelManagedBy = Config.ManagerID. A new Manager on the same
//     runtime ADOPTS the sandboxes and containers of the pods it is given: running containers keep
//     running (same container ID, same restart count, read back from AnnotationRestartCount), a
//     half-made pod is completed, and nothing is started twice. Calls that create or start something
//     are not cancelled half-way when the manager stops.
//   - Once MarkSourcesReady is called, sandboxes and containers with this ManagerID that belong to no
//     known pod are stopped and removed (housekeeping). Things other managers or kubelet made are never
//     touched.
//   - Pod status as kubelet reports it: phase, conditions (PodScheduled, Initialized, ContainersReady,
//     Ready) with stable transition times, container statuses (state, last termination, restart count,
//     ready, started, image, image ID, "<runtime>://<id>" container ID), pod and host IPs, start time
//     (kept across manager restarts), QoS class. Bad specs give kubelet's reasons: a missing ConfigMap,
//     Secret or key, an unsupported volume, a bad hostPath: CreateContainerConfigError; a pull failure:
//     ErrImagePull then ImagePullBackOff; an absent image with policy Never: ErrImageNeverPull. One bad
//     pod does not affect others; a panic in a pod's sync is logged and the worker goes on.
//   - Statuses are coalesced per pod: TakeStatuses (and the module) hand out only the newest one of each
//     pod, and only when it changed.
//   - Run returns once every worker and probe goroutine has stopped; the pods keep running. The
//     module's Run returns once the manager, the status sender and the node reporter have stopped.
//   - A pod that came with a deletionTimestamp is reported deleted (and its final delete sent) only
//     once the runtime holds nothing of it, at least once per deletion: after a restart, a pod restored
//     with its deletionTimestamp is removed and reported again, even if the manager did not know it.
//
// # Not supported yet
//
// Ephemeral and sidecar (restartable init) containers; the gRPC probe; lifecycle hooks (postStart,
// preStop); the termination message file and /etc/hosts management; image pull secrets; emptyDir
// medium Memory (a plain directory is used) and size limits; serviceAccountToken and clusterTrustBundle
// projections (left out of projected volumes); resourceFieldRef env; pod-level DNS config; readiness
// gates; in-place resource updates; eviction (pressure conditions are reported, nothing is evicted);
// node status fields beyond those above (daemon endpoints, volumes in use, hugepages and extended
// resources, runtime handlers and features); container log rotation.
package edged
