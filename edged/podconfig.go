package edged

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultTerminationGracePeriod is the grace period of a pod that sets none, in seconds (Kubernetes').
const DefaultTerminationGracePeriod = 30

// gracePeriod is how long the pod's containers get between SIGTERM and SIGKILL.
func gracePeriod(pod *corev1.Pod) int64 {
	if pod.DeletionGracePeriodSeconds != nil {
		return max(*pod.DeletionGracePeriodSeconds, 0)
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return max(*pod.Spec.TerminationGracePeriodSeconds, 0)
	}
	return DefaultTerminationGracePeriod
}

func (m *Manager) podLogDir(pod *corev1.Pod) string {
	return filepath.Join(m.cfg.LogDir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
}

func (m *Manager) nodeName(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	return m.cfg.NodeName
}

// sandboxConfig is the CRI sandbox of pod. A host-network pod has no hostname of its own: the runtime
// refuses to set one without a private UTS namespace.
func (m *Manager) sandboxConfig(pod *corev1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	hostname := ""
	if !pod.Spec.HostNetwork {
		hostname = pod.Spec.Hostname
		if hostname == "" {
			hostname = pod.Name
		}
		if len(hostname) > 63 {
			hostname = strings.TrimRight(hostname[:63], "-.")
		}
	}
	var ports []*runtimeapi.PortMapping
	visitContainers(pod, func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch p.Protocol {
			case corev1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case corev1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			ports = append(ports, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: p.ContainerPort,
				HostPort: p.HostPort, HostIp: p.HostIP})
		}
	})
	annotations := make(map[string]string, len(pod.Annotations)+1)
	for k, v := range pod.Annotations {
		annotations[k] = v
	}
	annotations[AnnotationGracePeriod] = strconv.FormatInt(gracePeriod(pod), 10)
	sc := &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = psc.SupplementalGroups
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace,
			Uid: string(pod.UID), Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: m.podLogDir(pod),
		PortMappings: ports,
		Labels:       m.sandboxLabels(pod),
		Annotations:  annotations,
		Linux:        &runtimeapi.LinuxPodSandboxConfig{SecurityContext: sc},
	}
}

// containerSpec is everything needed to create one container.
type containerSpec struct {
	c            *corev1.Container
	kind         string
	restartCount int32
	imageRef     string
	env          []corev1.EnvVar
	volumes      map[string]volume
}

// containerConfig is the CRI config of a container: command and args with $(VAR) expanded, env,
// working dir, mounts, resources, security context, labels, and the log path
// "<container>/<restartCount>.log" under the sandbox's log directory (which the caller makes).
func (m *Manager) containerConfig(pod *corev1.Pod, s containerSpec, sandbox *runtimeapi.PodSandboxConfig) (*runtimeapi.ContainerConfig, error) {
	c := s.c
	vars := make(map[string]string, len(s.env))
	envs := make([]*runtimeapi.KeyValue, 0, len(s.env))
	for _, e := range s.env {
		vars[e.Name] = e.Value
		envs = append(envs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	lookup := func(n string) (string, bool) { v, ok := vars[n]; return v, ok }
	expandAll := func(in []string) []string {
		if in == nil {
			return nil
		}
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = expand(s, lookup)
		}
		return out
	}

	var mounts []*runtimeapi.Mount
	for _, vm := range c.VolumeMounts {
		vol, ok := s.volumes[vm.Name]
		if !ok {
			return nil, configErrorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		host := vol.hostPath
		if sub := expand(vm.SubPath, lookup); sub != "" {
			if filepath.IsAbs(sub) || strings.HasPrefix(filepath.Clean(sub), "..") {
				return nil, configErrorf("subPath %q of volume %q must be a relative path within the volume", sub, vm.Name)
			}
			host = filepath.Join(host, sub)
			if !vol.readOnly {
				if _, err := os.Stat(host); os.IsNotExist(err) {
					if err := os.MkdirAll(host, 0o777); err != nil {
						return nil, fmt.Errorf("subPath %s: %w", host, err)
					}
				}
			}
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: vm.MountPath, HostPath: host,
			Readonly: vm.ReadOnly || vol.readOnly, Propagation: runtimeapi.MountPropagation_PROPAGATION_PRIVATE})
	}

	return &runtimeapi.ContainerConfig{
		Metadata:   &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(s.restartCount)},
		Image:      &runtimeapi.ImageSpec{Image: s.imageRef, UserSpecifiedImage: c.Image},
		Command:    expandAll(c.Command),
		Args:       expandAll(c.Args),
		WorkingDir: c.WorkingDir,
		Envs:       envs,
		Mounts:     mounts,
		Labels:     m.containerLabels(pod, c.Name, s.kind),
		Annotations: map[string]string{
			AnnotationRestartCount:  strconv.Itoa(int(s.restartCount)),
			AnnotationContainerHash: containerHash(c),
			AnnotationGracePeriod:   strconv.FormatInt(gracePeriod(pod), 10),
		},
		LogPath: filepath.Join(c.Name, strconv.Itoa(int(s.restartCount))+".log"),
		Stdin:   c.Stdin,
		Tty:     c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       linuxResources(c.Resources),
			SecurityContext: containerSecurity(pod, c, sandbox.GetLinux().GetSecurityContext().GetNamespaceOptions()),
		},
	}, nil
}

// mkdirCheap makes the directory dir (0755) and its parents as needed. It costs one mkdir when the
// parent exists and dir does not, the common case (os.MkdirAll first stats every level); directory
// creation is on the path of every container start, and slow on some disks.
func mkdirCheap(dir string) error {
	err := os.Mkdir(dir, 0o755)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		if st, serr := os.Stat(dir); serr == nil && !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	}
	return err
}
