package metaserver

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Server-side printing: kubectl get asks for a meta.k8s.io/v1 Table (Accept: application/json;as=Table;
// v=v1;g=meta.k8s.io), whose columns are those of the real API server for the main kinds.

type tableColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Format      string `json:"format"`
	Description string `json:"description"`
	Priority    int    `json:"priority"`
}

type tableRow struct {
	Cells  []any           `json:"cells"`
	Object json.RawMessage `json:"object,omitempty"`
}

type table struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		ResourceVersion string `json:"resourceVersion,omitempty"`
	} `json:"metadata"`
	ColumnDefinitions []tableColumn `json:"columnDefinitions"`
	Rows              []tableRow    `json:"rows"`
}

// wantsTable reports whether an Accept header asks for a meta.k8s.io/v1 Table.
func wantsTable(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		var as, v, g bool
		for _, p := range strings.Split(part, ";") {
			switch strings.TrimSpace(p) {
			case "as=Table":
				as = true
			case "v=v1":
				v = true
			case "g=meta.k8s.io":
				g = true
			}
		}
		if as && v && g {
			return true
		}
	}
	return false
}

var nameColumn = tableColumn{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."}
var ageColumn = tableColumn{Name: "Age", Type: "string", Description: "Time since the object was created."}

func str(name, desc string) tableColumn {
	return tableColumn{Name: name, Type: "string", Description: desc}
}
func integer(name, desc string) tableColumn {
	return tableColumn{Name: name, Type: "integer", Description: desc}
}

func tableColumns(r *resource) []tableColumn {
	switch r.hubKind {
	case "pod":
		return []tableColumn{nameColumn, str("Ready", "containers ready"), str("Status", "pod status"),
			integer("Restarts", "container restarts"), ageColumn,
			{Name: "IP", Type: "string", Priority: 1, Description: "pod IP"}, {Name: "Node", Type: "string", Priority: 1, Description: "node"}}
	case "configmap":
		return []tableColumn{nameColumn, integer("Data", "number of keys"), ageColumn}
	case "secret":
		return []tableColumn{nameColumn, str("Type", "secret type"), integer("Data", "number of keys"), ageColumn}
	case "service":
		return []tableColumn{nameColumn, str("Type", "service type"), str("Cluster-IP", "cluster IP"),
			str("External-IP", "external IPs"), str("Port(s)", "ports"), ageColumn}
	case "node":
		return []tableColumn{nameColumn, str("Status", "node readiness"), str("Roles", "node roles"), ageColumn,
			str("Version", "kubelet version")}
	}
	return []tableColumn{nameColumn, ageColumn}
}

// printed is the part of an object that the table columns read.
type printed struct {
	Metadata struct {
		Name              string            `json:"name"`
		CreationTimestamp string            `json:"creationTimestamp"`
		DeletionTimestamp string            `json:"deletionTimestamp"`
		Labels            map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Containers  []json.RawMessage `json:"containers"`
		NodeName    string            `json:"nodeName"`
		Type        string            `json:"type"`
		ClusterIP   string            `json:"clusterIP"`
		ExternalIPs []string          `json:"externalIPs"`
		Ports       []struct {
			Port     int    `json:"port"`
			NodePort int    `json:"nodePort"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
	} `json:"spec"`
	Status struct {
		Phase             string `json:"phase"`
		Reason            string `json:"reason"`
		PodIP             string `json:"podIP"`
		ContainerStatuses []struct {
			Ready        bool `json:"ready"`
			RestartCount int  `json:"restartCount"`
			State        struct {
				Waiting    *struct{ Reason string } `json:"waiting"`
				Terminated *struct{ Reason string } `json:"terminated"`
			} `json:"state"`
		} `json:"containerStatuses"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		NodeInfo struct {
			KubeletVersion string `json:"kubeletVersion"`
		} `json:"nodeInfo"`
	} `json:"status"`
	Type       string                     `json:"type"`
	Data       map[string]json.RawMessage `json:"data"`
	BinaryData map[string]json.RawMessage `json:"binaryData"`
}

// tableCells returns the cells of one rendered object.
func tableCells(r *resource, obj []byte, now time.Time) []any {
	var p printed
	_ = json.Unmarshal(obj, &p)
	age := "<unknown>"
	if t, err := time.Parse(time.RFC3339, p.Metadata.CreationTimestamp); err == nil {
		age = humanDuration(now.Sub(t))
	}
	orNone := func(s string) string {
		if s == "" {
			return "<none>"
		}
		return s
	}
	switch r.hubKind {
	case "pod":
		ready, restarts := 0, 0
		status := p.Status.Phase
		if p.Status.Reason != "" {
			status = p.Status.Reason
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.Ready {
				ready++
			}
			restarts += cs.RestartCount
			if w := cs.State.Waiting; w != nil && w.Reason != "" {
				status = w.Reason
			} else if t := cs.State.Terminated; t != nil && t.Reason != "" {
				status = t.Reason
			}
		}
		if p.Metadata.DeletionTimestamp != "" {
			status = "Terminating"
		}
		if status == "" {
			status = "Unknown"
		}
		return []any{p.Metadata.Name, fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)), status, restarts, age,
			orNone(p.Status.PodIP), orNone(p.Spec.NodeName)}
	case "configmap":
		return []any{p.Metadata.Name, len(p.Data) + len(p.BinaryData), age}
	case "secret":
		return []any{p.Metadata.Name, p.Type, len(p.Data), age}
	case "service":
		typ := p.Spec.Type
		if typ == "" {
			typ = "ClusterIP"
		}
		var ports []string
		for _, pt := range p.Spec.Ports {
			proto := pt.Protocol
			if proto == "" {
				proto = "TCP"
			}
			if pt.NodePort != 0 {
				ports = append(ports, fmt.Sprintf("%d:%d/%s", pt.Port, pt.NodePort, proto))
			} else {
				ports = append(ports, fmt.Sprintf("%d/%s", pt.Port, proto))
			}
		}
		return []any{p.Metadata.Name, typ, orNone(p.Spec.ClusterIP), orNone(strings.Join(p.Spec.ExternalIPs, ",")),
			orNone(strings.Join(ports, ",")), age}
	case "node":
		status := "Unknown"
		for _, c := range p.Status.Conditions {
			if c.Type == "Ready" {
				status = map[string]string{"True": "Ready", "False": "NotReady"}[c.Status]
				if status == "" {
					status = "Unknown"
				}
			}
		}
		var roles []string
		for l := range p.Metadata.Labels {
			if role, ok := strings.CutPrefix(l, "node-role.kubernetes.io/"); ok && role != "" {
				roles = append(roles, role)
			}
		}
		return []any{p.Metadata.Name, status, orNone(strings.Join(slices.Sorted(slices.Values(roles)), ",")), age, p.Status.NodeInfo.KubeletVersion}
	}
	return []any{p.Metadata.Name, age}
}

// rowObject returns the PartialObjectMetadata of a rendered object (kubectl reads the namespace from it).
func rowObject(obj []byte) json.RawMessage {
	var o struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	_ = json.Unmarshal(obj, &o)
	b, _ := json.Marshal(map[string]any{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.Metadata})
	return b
}

func newTable(r *resource, rv string, objs []json.RawMessage, now time.Time) *table {
	t := &table{Kind: "Table", APIVersion: "meta.k8s.io/v1", ColumnDefinitions: tableColumns(r), Rows: []tableRow{}}
	t.Metadata.ResourceVersion = rv
	for _, o := range objs {
		t.Rows = append(t.Rows, tableRow{Cells: tableCells(r, o, now), Object: rowObject(o)})
	}
	return t
}

// humanDuration prints d as kubectl does for ages: 45s, 12m, 5h, 3d, 2y.
func humanDuration(d time.Duration) string {
	switch s := int64(d.Seconds()); {
	case s < 0:
		return "0s"
	case s < 120:
		return strconv.FormatInt(s, 10) + "s"
	case s < 3600*3:
		return strconv.FormatInt(s/60, 10) + "m"
	case s < 3600*48:
		return strconv.FormatInt(s/3600, 10) + "h"
	case s < 3600*24*365*2:
		return strconv.FormatInt(s/(3600*24), 10) + "d"
	default:
		return strconv.FormatInt(s/(3600*24*365), 10) + "y"
	}
}
