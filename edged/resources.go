package edged

import (
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CPU accounting constants of the Linux CFS scheduler, as kubelet uses them.
const (
	cpuPeriod    = 100_000 // µs: the CFS period for quotas
	minShares    = 2
	sharesPerCPU = 1024
	minQuota     = 1000 // µs: the smallest quota the kernel accepts
)

// linuxResources maps a container's requests and limits to CRI resources, as kubelet does:
// cpu.shares from the CPU request (the limit when there is no request), a CFS quota from the CPU limit,
// and the memory limit in bytes. Nothing set means nil.
func linuxResources(r corev1.ResourceRequirements) *runtimeapi.LinuxContainerResources {
	cpuReq, hasReq := r.Requests[corev1.ResourceCPU]
	cpuLim, hasLim := r.Limits[corev1.ResourceCPU]
	memLim, hasMem := r.Limits[corev1.ResourceMemory]
	if !hasReq && !hasLim && !hasMem {
		return nil
	}
	out := &runtimeapi.LinuxContainerResources{}
	if !hasReq && hasLim {
		cpuReq, hasReq = cpuLim, true
	}
	if hasReq {
		shares := cpuReq.MilliValue() * sharesPerCPU / 1000
		out.CpuShares = max(shares, minShares)
	}
	if hasLim {
		out.CpuPeriod = cpuPeriod
		out.CpuQuota = max(cpuLim.MilliValue()*cpuPeriod/1000, minQuota)
	}
	if hasMem {
		out.MemoryLimitInBytes = memLim.Value()
	}
	return out
}

// containerSecurity maps the pod's and the container's security contexts (the container's fields win)
// to CRI: user, group, supplemental groups, privileged, read-only root filesystem, capabilities,
// no_new_privs. namespaces are the sandbox's.
func containerSecurity(pod *corev1.Pod, c *corev1.Container, namespaces *runtimeapi.NamespaceOption) *runtimeapi.LinuxContainerSecurityContext {
	out := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaces}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			out.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			out.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		out.SupplementalGroups = append(out.SupplementalGroups, psc.SupplementalGroups...)
		if psc.FSGroup != nil {
			out.SupplementalGroups = append(out.SupplementalGroups, *psc.FSGroup)
		}
	}
	sc := c.SecurityContext
	if sc == nil {
		return out
	}
	if sc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
	}
	if sc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
	}
	if sc.Privileged != nil {
		out.Privileged = *sc.Privileged
	}
	if sc.ReadOnlyRootFilesystem != nil {
		out.ReadonlyRootfs = *sc.ReadOnlyRootFilesystem
	}
	if sc.AllowPrivilegeEscalation != nil {
		out.NoNewPrivs = !*sc.AllowPrivilegeEscalation
	}
	if caps := sc.Capabilities; caps != nil {
		out.Capabilities = &runtimeapi.Capability{}
		for _, a := range caps.Add {
			out.Capabilities.AddCapabilities = append(out.Capabilities.AddCapabilities, string(a))
		}
		for _, d := range caps.Drop {
			out.Capabilities.DropCapabilities = append(out.Capabilities.DropCapabilities, string(d))
		}
	}
	return out
}

// namespaceOptions are the sandbox's namespaces: the node's network for host-network pods, the
// node's PID and IPC namespaces when the pod asks for them.
func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}
