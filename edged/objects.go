package edged

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// objectStore holds the ConfigMaps and Secrets the pods may use, keyed "<namespace>/<name>".
type objectStore struct {
	mu         sync.RWMutex
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func newObjectStore() *objectStore {
	return &objectStore{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
}

func nsName(namespace, name string) string { return namespace + "/" + name }

func (s *objectStore) configMap(namespace, name string) (*corev1.ConfigMap, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cm, ok := s.configMaps[nsName(namespace, name)]
	return cm, ok
}

func (s *objectStore) secret(namespace, name string) (*corev1.Secret, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sec, ok := s.secrets[nsName(namespace, name)]
	return sec, ok
}

func (s *objectStore) setConfigMap(cm *corev1.ConfigMap) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configMaps[nsName(cm.Namespace, cm.Name)] = cm
}

func (s *objectStore) deleteConfigMap(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.configMaps, nsName(namespace, name))
}

func (s *objectStore) setSecret(sec *corev1.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[nsName(sec.Namespace, sec.Name)] = sec
}

func (s *objectStore) deleteSecret(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.secrets, nsName(namespace, name))
}

// podUses reports whether pod refers to the ConfigMap (secret false) or Secret (secret true) named
// name in its namespace, by a volume, a projected volume, env or envFrom.
func podUses(pod *corev1.Pod, secret bool, name string) bool {
	for _, v := range pod.Spec.Volumes {
		switch {
		case !secret && v.ConfigMap != nil && v.ConfigMap.Name == name:
			return true
		case secret && v.Secret != nil && v.Secret.SecretName == name:
			return true
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if !secret && src.ConfigMap != nil && src.ConfigMap.Name == name ||
					secret && src.Secret != nil && src.Secret.Name == name {
					return true
				}
			}
		}
	}
	uses := false
	visitContainers(pod, func(c *corev1.Container) {
		for _, e := range c.EnvFrom {
			if !secret && e.ConfigMapRef != nil && e.ConfigMapRef.Name == name ||
				secret && e.SecretRef != nil && e.SecretRef.Name == name {
				uses = true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if !secret && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name ||
				secret && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name {
				uses = true
			}
		}
	})
	return uses
}

func visitContainers(pod *corev1.Pod, f func(c *corev1.Container)) {
	for i := range pod.Spec.InitContainers {
		f(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		f(&pod.Spec.Containers[i])
	}
}
