package edged

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// Volume directories under <DataDir>/pods/<uid>/volumes, named after kubelet's plugins.
const (
	pluginConfigMap   = "kubernetes.io~configmap"
	pluginSecret      = "kubernetes.io~secret"
	pluginEmptyDir    = "kubernetes.io~empty-dir"
	pluginProjected   = "kubernetes.io~projected"
	pluginDownwardAPI = "kubernetes.io~downward-api"

	defaultVolumeMode = 0o644 // kubelet's default mode of configMap, secret and downwardAPI files
)

// volume is a volume made ready on the host.
type volume struct {
	hostPath string
	// readOnly volumes (configMap, secret, downwardAPI, projected) are always mounted read-only.
	readOnly bool
}

func (m *Manager) podDir(uid string) string { return filepath.Join(m.cfg.DataDir, "pods", uid) }

// setupVolumes makes every volume of pod ready on the host and returns them by name. ConfigMap, Secret,
// downwardAPI and projected volumes are (re)written atomically, so that a change of the objects reaches
// the files that running containers see. A spec problem or a missing object is a *configError.
func (m *Manager) setupVolumes(pod *corev1.Pod, facts podFacts) (map[string]volume, error) {
	out := make(map[string]volume, len(pod.Spec.Volumes))
	base := filepath.Join(m.podDir(string(pod.UID)), "volumes")
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		var (
			vol volume
			err error
		)
		switch {
		case v.EmptyDir != nil:
			vol.hostPath = filepath.Join(base, pluginEmptyDir, v.Name)
			err = os.MkdirAll(vol.hostPath, 0o777)
			if err == nil {
				err = os.Chmod(vol.hostPath, 0o777) // writable by any container user, as kubelet's
			}
		case v.HostPath != nil:
			vol.hostPath = v.HostPath.Path
			err = checkHostPath(v.HostPath)
		case v.ConfigMap != nil, v.Secret != nil, v.DownwardAPI != nil, v.Projected != nil:
			vol, err = m.writeProjection(pod, facts, v, base)
		default:
			err = configErrorf("volume %q: unsupported volume type", v.Name)
		}
		if err != nil {
			if _, ok := err.(*configError); !ok {
				err = configErrorf("volume %q: %v", v.Name, err)
			}
			return nil, err
		}
		out[v.Name] = vol
	}
	return out, nil
}

// writeProjection writes the files of a configMap, secret, downwardAPI or projected volume.
func (m *Manager) writeProjection(pod *corev1.Pod, facts podFacts, v *corev1.Volume, base string) (volume, error) {
	payload := map[string]fileProjection{}
	var plugin string
	var err error
	switch {
	case v.ConfigMap != nil:
		plugin = pluginConfigMap
		err = m.configMapFiles(pod, &v.ConfigMap.LocalObjectReference, v.ConfigMap.Items, v.ConfigMap.Optional,
			modeOr(v.ConfigMap.DefaultMode, defaultVolumeMode), payload)
	case v.Secret != nil:
		plugin = pluginSecret
		err = m.secretFiles(pod, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional,
			modeOr(v.Secret.DefaultMode, defaultVolumeMode), payload)
	case v.DownwardAPI != nil:
		plugin = pluginDownwardAPI
		err = downwardFiles(pod, facts, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode, defaultVolumeMode), payload)
	case v.Projected != nil:
		plugin = pluginProjected
		mode := modeOr(v.Projected.DefaultMode, defaultVolumeMode)
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				err = m.configMapFiles(pod, &src.ConfigMap.LocalObjectReference, src.ConfigMap.Items, src.ConfigMap.Optional, mode, payload)
			case src.Secret != nil:
				err = m.secretFiles(pod, src.Secret.Name, src.Secret.Items, src.Secret.Optional, mode, payload)
			case src.DownwardAPI != nil:
				err = downwardFiles(pod, facts, src.DownwardAPI.Items, mode, payload)
			case src.ServiceAccountToken != nil, src.ClusterTrustBundle != nil:
				// Not supported on the edge yet: the source is left out (see the package doc).
			default:
				err = configErrorf("volume %q: unsupported projected source", v.Name)
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		return volume{}, err
	}
	dir := filepath.Join(base, plugin, v.Name)
	if _, err := writeAtomic(dir, payload); err != nil {
		return volume{}, err
	}
	return volume{hostPath: dir, readOnly: true}, nil
}

func modeOr(p *int32, def fs.FileMode) fs.FileMode {
	if p == nil {
		return def
	}
	return fs.FileMode(*p) & fs.ModePerm
}

func itemMode(p *int32, def fs.FileMode) fs.FileMode { return modeOr(p, def) }

func (m *Manager) configMapFiles(pod *corev1.Pod, ref *corev1.LocalObjectReference, items []corev1.KeyToPath,
	optional *bool, mode fs.FileMode, payload map[string]fileProjection) error {
	cm, ok := m.objects.configMap(pod.Namespace, ref.Name)
	if !ok {
		if isOptional(optional) {
			return nil
		}
		return configErrorf("configmap %q not found", ref.Name)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return projectKeys("ConfigMap", pod.Namespace+"/"+ref.Name, data, items, optional, mode, payload)
}

func (m *Manager) secretFiles(pod *corev1.Pod, name string, items []corev1.KeyToPath, optional *bool,
	mode fs.FileMode, payload map[string]fileProjection) error {
	sec, ok := m.objects.secret(pod.Namespace, name)
	if !ok {
		if isOptional(optional) {
			return nil
		}
		return configErrorf("secret %q not found", name)
	}
	data := make(map[string][]byte, len(sec.Data)+len(sec.StringData))
	for k, v := range sec.StringData {
		data[k] = []byte(v)
	}
	for k, v := range sec.Data {
		data[k] = v
	}
	return projectKeys("Secret", pod.Namespace+"/"+name, data, items, optional, mode, payload)
}

// projectKeys adds the keys of an object to payload: all of them under their own names, or the listed
// items under their paths.
func projectKeys(kind, name string, data map[string][]byte, items []corev1.KeyToPath, optional *bool,
	mode fs.FileMode, payload map[string]fileProjection) error {
	if len(items) == 0 {
		for k, v := range data {
			payload[k] = fileProjection{data: v, mode: mode}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if isOptional(optional) {
				continue
			}
			return configErrorf("configure %s volume: couldn't find key %s in %s %s", kind, it.Key, kind, name)
		}
		payload[it.Path] = fileProjection{data: v, mode: itemMode(it.Mode, mode)}
	}
	return nil
}

func downwardFiles(pod *corev1.Pod, facts podFacts, items []corev1.DownwardAPIVolumeFile, mode fs.FileMode,
	payload map[string]fileProjection) error {
	for _, it := range items {
		if it.FieldRef == nil {
			return configErrorf("downwardAPI file %q: only fieldRef is supported", it.Path)
		}
		v, err := fieldValue(pod, facts, it.FieldRef.FieldPath)
		if err != nil {
			return err
		}
		payload[it.Path] = fileProjection{data: []byte(v), mode: itemMode(it.Mode, mode)}
	}
	return nil
}

// checkHostPath checks or creates a hostPath volume by its type, as kubelet does.
func checkHostPath(hp *corev1.HostPathVolumeSource) error {
	typ := corev1.HostPathUnset
	if hp.Type != nil {
		typ = *hp.Type
	}
	info, statErr := os.Stat(hp.Path)
	switch typ {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if statErr != nil {
			return os.MkdirAll(hp.Path, 0o755)
		}
		if !info.IsDir() {
			return configErrorf("hostPath %s exists and is not a directory", hp.Path)
		}
		return nil
	case corev1.HostPathFileOrCreate:
		if statErr != nil {
			if err := os.MkdirAll(filepath.Dir(hp.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(hp.Path, os.O_CREATE|os.O_RDONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if info.IsDir() {
			return configErrorf("hostPath %s exists and is a directory", hp.Path)
		}
		return nil
	}
	if statErr != nil {
		return configErrorf("hostPath type check failed: %s does not exist", hp.Path)
	}
	ok := false
	switch typ {
	case corev1.HostPathDirectory:
		ok = info.IsDir()
	case corev1.HostPathFile:
		ok = info.Mode().IsRegular()
	case corev1.HostPathSocket:
		ok = info.Mode()&fs.ModeSocket != 0
	case corev1.HostPathCharDev:
		ok = info.Mode()&fs.ModeCharDevice != 0
	case corev1.HostPathBlockDev:
		ok = info.Mode()&fs.ModeDevice != 0 && info.Mode()&fs.ModeCharDevice == 0
	default:
		return configErrorf("hostPath %s: unknown type %q", hp.Path, typ)
	}
	if !ok {
		return configErrorf("hostPath type check failed: %s is not a %s", hp.Path, typ)
	}
	return nil
}

// removePodDir removes the pod's directory (its volumes) once its containers are gone.
func (m *Manager) removePodDir(uid string) error {
	if uid == "" {
		return fmt.Errorf("edged: remove pod dir: empty uid")
	}
	return os.RemoveAll(m.podDir(uid))
}
