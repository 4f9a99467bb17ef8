# edgehive — make targets. `make test` installs what the tests need (Debian packages, the Kubernetes
# binaries built once into a cache keyed by version, staticcheck) and runs every check and test.

SHELL := /bin/bash
export EDGEHIVE_CACHE ?= $(HOME)/.cache/edgehive

.PHONY: test test-deps check unit bench bench-table quickstart build

# How the mains are built for use: stripped, and with gRPC's grpcnotrace tag (without it gRPC links
# golang.org/x/net/trace and text/template, 4.3 MB of the edge binary; see BENCHMARKS.md, edge footprint).
GOFLAGS_RELEASE := -trimpath -tags grpcnotrace -ldflags=-s\ -w

## quickstart: a cloud and an edge on this machine with a pod and a device working, until Ctrl-C
##             (QUICKSTART_ARGS=--check exits once the pod runs and the device reports; as CI does)
quickstart: test-deps build
	bin/quickstart $(QUICKSTART_ARGS)

## build: the example mains into bin/ (cloud, edge, mapper, quickstart, edgemark), stripped
build:
	go build $(GOFLAGS_RELEASE) -o bin/ ./examples/quickstart ./examples/mapper ./examples/cloud ./examples/edge ./examples/edgemark

## test: install the test dependencies, then gofmt, go vet, staticcheck and go test -race ./...
test: test-deps
	hack/test.sh

## test-deps: install mosquitto, containerd, runc, CNI, etcd, busybox; build Kubernetes v1.36.3; staticcheck
test-deps:
	hack/install-deps.sh

## unit: the fast tests only (no real components needed), without the race detector
unit:
	go test -short ./...

## bench: the Go benchmarks of every package (micro ones 3 × 200ms, the harness ones once at a small
##        size), raw output in .cache/bench.txt, then one table of figure / budget / anchor / verdict
##        (BENCH_TIME, BENCH_COUNT, BENCH_SAMPLES, EDGEHIVE_BENCH_NODES, EDGEHIVE_EDGEMARK_NODES: see the script)
bench: test-deps
	hack/benchtable/bench.sh

## bench-table: the table again from the last run's .cache/bench.txt (or BENCH_OUT)
bench-table:
	go run ./hack/benchtable -small $${BENCH_OUT:-.cache/bench.txt}
