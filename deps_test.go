package edgehive_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/edgehive/edgehive/"

// depRule is one import rule of DESIGN.md: what a package (and everything it links) may, must or must not
// depend on. Dependencies are the non-standard packages `go list -deps` names, the package itself left out.
type depRule struct {
	pkg    string   // a ./path pattern
	only   []string // if set, every dependency must have one of these prefixes
	banned []string // no dependency may contain one of these
	exact  []string // no dependency may be exactly one of these
	needs  []string // a dependency containing each of these must be there (the check is not blind)
	why    string
}

var depRules = []depRule{
	{pkg: "./beehive", only: []string{}, why: "the module framework is standard library only"},
	{pkg: "./hub", only: []string{module + "beehive", module + "hub"}, why: "the cloud↔edge contract is light"},
	{pkg: "./hub/certs", only: []string{module + "beehive", module + "hub"}, why: "certificates need no transport"},
	{pkg: "./eventbus/api", only: []string{module + "beehive"}, why: "modules talk to the eventbus without linking MQTT"},
	{pkg: "./controller/api", only: []string{}, why: "edge modules import the device status shapes"},
	{pkg: "./internal/sqlitedb", only: []string{"github.com/mattn/go-sqlite3"}, needs: []string{"go-sqlite3"},
		why: "one SQLite opener for everyone"},
	{pkg: "./twin", banned: []string{"websocket", "paho", "mochi", "google.golang.org/grpc", "k8s.io/",
		module + "beehive", module + "hub", module + "eventbus"}, needs: []string{"go-sqlite3"},
		why: "firmware embeds the twin store alone"},
	{pkg: "./twin/twinmodule", banned: []string{"paho", "mochi", module + "eventbus/broker", "websocket",
		"google.golang.org/grpc", "k8s.io/client-go"}, why: "the twin module talks MQTT only through the eventbus"},
	{pkg: "./eventbus", banned: []string{"mochi"}, needs: []string{"paho"}, why: "the bridge does not link the broker"},
	{pkg: "./meta/...", banned: []string{"k8s.io/client-go", "k8s.io/api/", "websocket"},
		why: "the edge's cache links no Kubernetes client"},
	{pkg: "./controller", banned: []string{module + "edged", module + "twin", module + "meta", module + "eventbus",
		"websocket", "google.golang.org/grpc", "sqlite"}, needs: []string{"k8s.io/client-go"},
		why: "the cloud side links no edge module"},
	{pkg: "./examples/edge", banned: []string{"k8s.io/client-go", module + "hub/cloudhub"},
		exact: []string{module + "controller", module + "controller/crds"},
		needs: []string{"gorilla/websocket"}, why: "an edge binary does not link client-go"},
}

// TestDependencyRules checks DESIGN.md's import rules in one place.
func TestDependencyRules(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go list for every rule")
	}
	for _, r := range depRules {
		t.Run(strings.TrimPrefix(r.pkg, "./"), func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", r.pkg).CombinedOutput()
			if err != nil {
				t.Fatalf("go list -deps %s: %v\n%s", r.pkg, err, out)
			}
			self := module + strings.TrimSuffix(strings.TrimPrefix(r.pkg, "./"), "/...")
			var deps []string
			for _, d := range strings.Fields(string(out)) {
				if d != self && !(strings.HasSuffix(r.pkg, "/...") && strings.HasPrefix(d, self+"/")) {
					deps = append(deps, d)
				}
			}
			for _, d := range deps {
				if r.only != nil && !hasPrefix(d, r.only) {
					t.Errorf("%s depends on %s (%s)", r.pkg, d, r.why)
				}
				for _, b := range r.banned {
					if strings.Contains(d, b) {
						t.Errorf("%s depends on %s (%s)", r.pkg, d, r.why)
					}
				}
				for _, e := range r.exact {
					if d == e {
						t.Errorf("%s depends on %s (%s)", r.pkg, d, r.why)
					}
				}
			}
			for _, n := range r.needs {
				if !containsAny(deps, n) {
					t.Errorf("%s: no dependency contains %q: the rule is blind or the package changed", r.pkg, n)
				}
			}
		})
	}
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}

func containsAny(deps []string, sub string) bool {
	for _, d := range deps {
		if strings.Contains(d, sub) {
			return true
		}
	}
	return false
}
