package metaserver

import (
	"net/http"
	"runtime"
)

// Discovery documents: enough for kubectl and client-go to find the served resources. The server
// answers the legacy (unaggregated) forms with Content-Type application/json, which clients that ask
// for aggregated discovery (apidiscovery.k8s.io/v2) accept as a fallback.

// Version is what /version reports: the Kubernetes version whose API shape the server follows.
const (
	versionMajor = "1"
	versionMinor = "36"
	gitVersion   = "v1.36.3-edgehive"
)

type apiResource struct {
	Name         string   `json:"name"`
	SingularName string   `json:"singularName"`
	Namespaced   bool     `json:"namespaced"`
	Kind         string   `json:"kind"`
	Verbs        []string `json:"verbs"`
	ShortNames   []string `json:"shortNames,omitempty"`
}

type apiResourceList struct {
	Kind         string        `json:"kind"`
	APIVersion   string        `json:"apiVersion"`
	GroupVersion string        `json:"groupVersion"`
	Resources    []apiResource `json:"resources"`
}

type groupVersion struct {
	GroupVersion string `json:"groupVersion"`
	Version      string `json:"version"`
}

type apiGroup struct {
	Kind             string         `json:"kind,omitempty"`
	APIVersion       string         `json:"apiVersion,omitempty"`
	Name             string         `json:"name"`
	Versions         []groupVersion `json:"versions"`
	PreferredVersion groupVersion   `json:"preferredVersion"`
}

var readVerbs = []string{"get", "list", "watch"}

func resourceList(group, version string) *apiResourceList {
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	l := &apiResourceList{Kind: "APIResourceList", APIVersion: "v1", GroupVersion: gv, Resources: []apiResource{}}
	for _, r := range resources {
		if r.group == group && r.version == version {
			l.Resources = append(l.Resources, apiResource{Name: r.plural, SingularName: r.singular, Namespaced: r.namespaced,
				Kind: r.kind, Verbs: readVerbs, ShortNames: r.shortNames})
		}
	}
	return l
}

func devicesGroup() apiGroup {
	gv := groupVersion{GroupVersion: DevicesGroup + "/" + DevicesVersion, Version: DevicesVersion}
	return apiGroup{Name: DevicesGroup, Versions: []groupVersion{gv}, PreferredVersion: gv}
}

// serveDiscovery answers the discovery paths and reports whether p was one.
func (s *Server) serveDiscovery(w http.ResponseWriter, p string) bool {
	switch p {
	case "/api":
		writeJSON(w, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []map[string]string{{"clientCIDR": "0.0.0.0/0", "serverAddress": s.addr}}})
	case "/api/v1":
		writeJSON(w, resourceList("", "v1"))
	case "/apis":
		writeJSON(w, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []apiGroup{devicesGroup()}})
	case "/apis/" + DevicesGroup:
		g := devicesGroup()
		g.Kind, g.APIVersion = "APIGroup", "v1"
		writeJSON(w, g)
	case "/apis/" + DevicesGroup + "/" + DevicesVersion:
		writeJSON(w, resourceList(DevicesGroup, DevicesVersion))
	case "/version":
		writeJSON(w, map[string]string{"major": versionMajor, "minor": versionMinor, "gitVersion": gitVersion,
			"goVersion": runtime.Version(), "compiler": runtime.Compiler, "platform": runtime.GOOS + "/" + runtime.GOARCH})
	case "/healthz", "/readyz", "/livez":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok"))
	default:
		return false
	}
	return true
}
