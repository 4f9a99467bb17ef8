package edged

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// PodSource lists what the edge stored before it restarted, so that pods are restored (and their
// running containers adopted) without the cloud. The meta module's store implements it. Methods are
// called once, at start, from the edged module's goroutine.
type PodSource interface {
	ListPods(ctx context.Context) ([]*corev1.Pod, error)
	ListConfigMaps(ctx context.Context) ([]*corev1.ConfigMap, error)
	ListSecrets(ctx context.Context) ([]*corev1.Secret, error)
}

// Restore gives m everything src holds: ConfigMaps and Secrets first, then pods, so that no pod starts
// without the objects it uses. Pods of other nodes (spec.nodeName set and not m's NodeName) are skipped.
// It does not call MarkSourcesReady: the caller decides when the manager knows every pod.
func Restore(ctx context.Context, src PodSource, m *Manager) error {
	cms, err := src.ListConfigMaps(ctx)
	if err != nil {
		return fmt.Errorf("restore configmaps: %w", err)
	}
	for _, cm := range cms {
		m.UpdateConfigMap(cm)
	}
	secrets, err := src.ListSecrets(ctx)
	if err != nil {
		return fmt.Errorf("restore secrets: %w", err)
	}
	for _, s := range secrets {
		m.UpdateSecret(s)
	}
	pods, err := src.ListPods(ctx)
	if err != nil {
		return fmt.Errorf("restore pods: %w", err)
	}
	var errs []error
	for _, p := range pods {
		if p.Spec.NodeName != "" && m.cfg.NodeName != "" && p.Spec.NodeName != m.cfg.NodeName {
			continue
		}
		if err := m.UpdatePod(p); err != nil {
			errs = append(errs, fmt.Errorf("restore pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// StaticSource is a PodSource over fixed lists (tests, examples, a manifest directory read at start).
type StaticSource struct {
	Pods       []*corev1.Pod
	ConfigMaps []*corev1.ConfigMap
	Secrets    []*corev1.Secret
}

// ListPods implements PodSource.
func (s *StaticSource) ListPods(context.Context) ([]*corev1.Pod, error) { return s.Pods, nil }

// ListConfigMaps implements PodSource.
func (s *StaticSource) ListConfigMaps(context.Context) ([]*corev1.ConfigMap, error) {
	return s.ConfigMaps, nil
}

// ListSecrets implements PodSource.
func (s *StaticSource) ListSecrets(context.Context) ([]*corev1.Secret, error) { return s.Secrets, nil }

var _ PodSource = (*StaticSource)(nil)
