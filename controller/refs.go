package controller

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// References are the names of the ConfigMaps and Secrets a pod uses, in the pod's namespace, each
// sorted and without duplicates.
type References struct {
	ConfigMaps []string
	Secrets    []string
}

// PodReferences returns the ConfigMaps and Secrets that pod uses and an edge node needs to run it:
// volumes (configMap, secret, and the configMap and secret sources of projected volumes), the env
// (valueFrom configMapKeyRef and secretKeyRef) and envFrom (configMapRef, secretRef) of every init,
// regular and ephemeral container, and imagePullSecrets. It is pure.
func PodReferences(pod *corev1.Pod) References {
	var r References
	cm := func(name string) {
		if name != "" {
			r.ConfigMaps = append(r.ConfigMaps, name)
		}
	}
	sec := func(name string) {
		if name != "" {
			r.Secrets = append(r.Secrets, name)
		}
	}
	spec := &pod.Spec
	for _, v := range spec.Volumes {
		if v.ConfigMap != nil {
			cm(v.ConfigMap.Name)
		}
		if v.Secret != nil {
			sec(v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.ConfigMap != nil {
					cm(s.ConfigMap.Name)
				}
				if s.Secret != nil {
					sec(s.Secret.Name)
				}
			}
		}
	}
	env := func(envs []corev1.EnvVar, from []corev1.EnvFromSource) {
		for _, e := range envs {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				cm(e.ValueFrom.ConfigMapKeyRef.Name)
			}
			if e.ValueFrom.SecretKeyRef != nil {
				sec(e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, f := range from {
			if f.ConfigMapRef != nil {
				cm(f.ConfigMapRef.Name)
			}
			if f.SecretRef != nil {
				sec(f.SecretRef.Name)
			}
		}
	}
	for _, c := range spec.InitContainers {
		env(c.Env, c.EnvFrom)
	}
	for _, c := range spec.Containers {
		env(c.Env, c.EnvFrom)
	}
	for _, c := range spec.EphemeralContainers {
		env(c.Env, c.EnvFrom)
	}
	for _, s := range spec.ImagePullSecrets {
		sec(s.Name)
	}
	slices.Sort(r.ConfigMaps)
	slices.Sort(r.Secrets)
	r.ConfigMaps = slices.Compact(r.ConfigMaps)
	r.Secrets = slices.Compact(r.Secrets)
	return r
}
