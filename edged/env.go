package edged

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// configError is a problem with a pod's spec or the objects it refers to: the container cannot be
// created until the spec or the objects change (CreateContainerConfigError).
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

func configErrorf(format string, args ...any) error {
	return &configError{msg: fmt.Sprintf(format, args...)}
}

// podFacts are the pod's run-time values that the downward API exposes.
type podFacts struct {
	podIP, hostIP, nodeName string
}

// fieldValue resolves a downward-API field path of pod.
func fieldValue(pod *corev1.Pod, facts podFacts, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "status.podIP":
		return facts.podIP, nil
	case "status.hostIP":
		return facts.hostIP, nil
	case "spec.nodeName":
		return facts.nodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if key, ok := strings.CutPrefix(path, prefix+"['"); ok && strings.HasSuffix(key, "']") {
			key = strings.TrimSuffix(key, "']")
			if prefix == "metadata.labels" {
				return pod.Labels[key], nil
			}
			return pod.Annotations[key], nil
		}
	}
	return "", configErrorf("unsupported fieldRef %q", path)
}

// formatMap renders labels or annotations as the downward API does: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// containerEnv resolves c's envFrom and env against the object store, in kubelet's order (envFrom
// first, then env, later names overriding earlier ones), and expands $(VAR) references. A missing
// ConfigMap, Secret or key that is not optional is a *configError.
func containerEnv(pod *corev1.Pod, c *corev1.Container, objs *objectStore, facts podFacts) ([]corev1.EnvVar, error) {
	var out []corev1.EnvVar
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, corev1.EnvVar{Name: name, Value: value})
	}
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := objs.configMap(pod.Namespace, from.ConfigMapRef.Name)
			if !ok {
				if isOptional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, configErrorf("configmap %q not found", from.ConfigMapRef.Name)
			}
			for _, k := range sortedKeys(cm.Data) {
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			sec, ok := objs.secret(pod.Namespace, from.SecretRef.Name)
			if !ok {
				if isOptional(from.SecretRef.Optional) {
					continue
				}
				return nil, configErrorf("secret %q not found", from.SecretRef.Name)
			}
			for _, k := range sortedKeys(sec.Data) {
				set(from.Prefix+k, string(sec.Data[k]))
			}
		}
	}
	lookup := func(name string) (string, bool) {
		i, ok := index[name]
		if !ok {
			return "", false
		}
		return out[i].Value, true
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, lookup))
			continue
		}
		v, skip, err := envSource(pod, e.ValueFrom, objs, facts)
		if err != nil {
			return nil, err
		}
		if !skip {
			set(e.Name, v)
		}
	}
	return out, nil
}

// envSource resolves one valueFrom. skip reports an optional reference that is absent.
func envSource(pod *corev1.Pod, src *corev1.EnvVarSource, objs *objectStore, facts podFacts) (v string, skip bool, err error) {
	switch {
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, ok := objs.configMap(pod.Namespace, ref.Name)
		if !ok {
			if isOptional(ref.Optional) {
				return "", true, nil
			}
			return "", false, configErrorf("configmap %q not found", ref.Name)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if b, bok := cm.BinaryData[ref.Key]; bok {
				return string(b), false, nil
			}
			if isOptional(ref.Optional) {
				return "", true, nil
			}
			return "", false, configErrorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, false, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		sec, ok := objs.secret(pod.Namespace, ref.Name)
		if !ok {
			if isOptional(ref.Optional) {
				return "", true, nil
			}
			return "", false, configErrorf("secret %q not found", ref.Name)
		}
		b, ok := sec.Data[ref.Key]
		if !ok {
			if s, sok := sec.StringData[ref.Key]; sok {
				return s, false, nil
			}
			if isOptional(ref.Optional) {
				return "", true, nil
			}
			return "", false, configErrorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(b), false, nil
	case src.FieldRef != nil:
		v, err := fieldValue(pod, facts, src.FieldRef.FieldPath)
		return v, false, err
	case src.ResourceFieldRef != nil:
		return "", false, configErrorf("resourceFieldRef %q is not supported", src.ResourceFieldRef.Resource)
	}
	return "", false, configErrorf("env valueFrom has no source")
}

func isOptional(p *bool) bool { return p != nil && *p }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expand replaces $(NAME) by NAME's value where lookup knows it, as Kubernetes does in env values,
// command and args: "$$" is a literal "$", and an unknown or unterminated reference stays as written.
func expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
