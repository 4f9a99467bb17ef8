package main

// ModulePath is the module whose packages the table names relative to it.
const ModulePath = "github.com/edgehive/edgehive"

// Better says which direction of a figure is good.
type Better int

const (
	Lower  Better = iota // a time, a size, a count of allocations
	Higher               // a rate, a number of nodes
)

// Bound is a budget's limit: at most (Lower) or at least (Higher) Limit. The zero Bound (Set false) is
// no limit: the row lists its figure only.
type Bound struct {
	Limit  float64
	Better Better
	Set    bool
}

func atMost(v float64) Bound  { return Bound{Limit: v, Better: Lower, Set: true} }
func atLeast(v float64) Bound { return Bound{Limit: v, Better: Higher, Set: true} }

// Budget is one row of DESIGN.md's "Performance budgets", bound to the benchmark and unit that measure
// it, with KubeEdge's figure (the anchor) where there is one.
type Budget struct {
	Pkg   string // package path relative to ModulePath: "beehive", "examples/edgemark"
	Name  string // benchmark name without the -N suffix, sub-benchmark included: "BenchmarkUpdateLatency/durable"
	Unit  string // "ns/op", "allocs/op", "p99-ms", …
	What  string // what the figure is, in a few words
	Bound Bound
	// Note stands in the budget column of a row without a Bound: where its budget is checked instead.
	Note   string
	Anchor string
	// FullSizeOnly: the budget holds at full size (10,000 nodes); in a small run (-small) the figure is
	// informative, not a miss.
	FullSizeOnly bool
	// At names another unit of the same benchmark whose figure qualifies this one ("at 2,013 msgs/s").
	At string
}

// Anchors that several rows share.
const (
	anchorNodes  = "KubeEdge: 100,000 nodes on 5 CloudCores of 12 CPUs"
	anchorResync = "KubeEdge resends per object (ObjectSync)"
	resyncNote   = "≤ 20 objects' worth of bytes (TestResyncBudget)"
)

// Budgets returns the rows of DESIGN.md's "Performance budgets", in its order, bound to the benchmarks
// of BENCHMARKS.md (and to examples/edgemark and examples/edge, whose benchmarks measure the scale and
// footprint budgets).
func Budgets() []Budget {
	return []Budget{
		{Pkg: "beehive", Name: "BenchmarkSendReceive", Unit: "ns/op", What: "beehive Send+Receive, one prepared message",
			Bound: atMost(100), Anchor: "KubeEdge beehive 690 ns"},
		{Pkg: "beehive", Name: "BenchmarkSendReceive", Unit: "allocs/op", What: "beehive Send+Receive, one prepared message",
			Bound: atMost(0), Anchor: "KubeEdge beehive 3 allocs"},
		{Pkg: "beehive", Name: "BenchmarkSendSync", Unit: "ns/op", What: "beehive SendSync round trip",
			Bound: atMost(1000), Anchor: "KubeEdge beehive ≈ 4.4 µs, 0.15 % lost"},
		{Pkg: "beehive", Name: "BenchmarkSendSyncModuleCtx", Unit: "ns/op", What: "SendSync on the module's own context",
			Bound: atMost(1000)},
		{Pkg: "beehive", Name: "BenchmarkSendSyncCancelableCtx", Unit: "ns/op", What: "SendSync with a cancelable context",
			Bound: atMost(1000)},

		{Pkg: "hub/cloudhub", Name: "BenchmarkCloudHub", Unit: "nodes", What: "hub: nodes on one cloud process, light edges",
			Bound: atLeast(10000), Anchor: anchorNodes, FullSizeOnly: true},
		{Pkg: "hub/cloudhub", Name: "BenchmarkCloudHub", Unit: "p99-ms", What: "hub: cloud→edge delivery p99 under load",
			Bound: atMost(50), At: "msgs/s"},
		{Pkg: "hub/edgehub", Name: "BenchmarkEdgeHubs", Unit: "p99-ms", What: "hub: delivery p99 to full edge hubs",
			Bound: atMost(50), At: "msgs/s"},
		{Pkg: "examples/edgemark", Name: "BenchmarkEdgemark", Unit: "nodes", What: "edgemark: connected edge nodes",
			Bound: atLeast(10000), Anchor: anchorNodes, FullSizeOnly: true},
		{Pkg: "examples/edgemark", Name: "BenchmarkEdgemark", Unit: "p99-ms", What: "edgemark: cloud→edge delivery p99",
			Bound: atMost(50), At: "msgs/s"},
		{Pkg: "examples/edgemark", Name: "BenchmarkEdgemark", Unit: "msgs/s", What: "edgemark: the load of the p99 budget",
			Bound: atLeast(2000)},
		{Pkg: "examples/edgemark", Name: "BenchmarkEdgemark", Unit: "reconnect-ms", What: "edgemark: every node reconnected"},
		{Pkg: "examples/edgemark", Name: "BenchmarkEdgemark", Unit: "resync-bytes/node", What: "edgemark: resync bytes per node",
			Note: resyncNote, Anchor: anchorResync},
		{Pkg: "examples/edgemark", Name: "BenchmarkEdgemark", Unit: "cloud-bytes/conn", What: "edgemark: cloud memory per connection"},
		{Pkg: "examples/edgemark", Name: "BenchmarkEdgemark", Unit: "ms-to-connect-all", What: "edgemark: every node connected"},

		{Pkg: "hub", Name: "BenchmarkDigestDiff1000", Unit: "ns/op", What: "resync, 1,000 objects, 10 changed: the cloud's diff",
			Note: resyncNote, Anchor: anchorResync},

		{Pkg: "twin", Name: "BenchmarkUpdateBatch100Durable", Unit: "updates/s", What: "twin store: durable updates, batched",
			Bound: atLeast(20000), Anchor: `KubeEdge issues: slow inserts, "database is locked"`},
		{Pkg: "twin", Name: "BenchmarkSetReportedDurable", Unit: "updates/s", What: "twin store: durable updates one at a time",
			Bound: atLeast(1000)},

		{Pkg: "twin/twinmodule", Name: "BenchmarkUpdateLatency/durable", Unit: "p99-ms", What: "MQTT twin update → result, embedded broker",
			Bound: atMost(5)},

		{Pkg: "examples/edge", Name: "BenchmarkEdgeFootprint", Unit: "rss-idle-MB", What: "edge process RSS, idle, all modules",
			Bound: atMost(25), Anchor: `KubeEdge edgecore "minimum 70 MB"`},
		{Pkg: "examples/edge", Name: "BenchmarkEdgeFootprint", Unit: "rss-loaded-MB", What: "edge RSS with 100 pods, 1,000 device twins",
			Bound: atMost(40)},
		{Pkg: "examples/edge", Name: "BenchmarkEdgeFootprint", Unit: "binary-MB", What: "edge binary (examples/edge, stripped)",
			Bound: atMost(25)},

		{Pkg: "edged", Name: "BenchmarkPodStart100", Unit: "p99-ms", What: "pod → StartContainer p99, fake runtime, 100 pods",
			Bound: atMost(100), Anchor: "KubeEdge pod start p50 1.7 s, p99 4.1 s at scale"},
	}
}
