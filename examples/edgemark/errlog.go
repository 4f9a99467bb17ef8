package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// dialErrors is a slog.Handler for the hollow nodes' edge hubs: it drops every record but counts the
// "dial failed" ones by the kind of error, so that a reconnect storm can be explained (refused while
// the cloud is down, handshake timeouts while it is overloaded, …).
type dialErrors struct {
	mu     sync.Mutex
	counts map[string]int
}

func newDialErrors() *dialErrors { return &dialErrors{counts: make(map[string]int)} }

// numbers strips addresses, ports and durations, so that errors of one kind count together.
var numbers = regexp.MustCompile(`[0-9]+(\.[0-9]+)*(:[0-9]+)?`)

func (d *dialErrors) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelDebug }

func (d *dialErrors) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "edgehub: dial failed" {
		return nil
	}
	var kind, status string
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "err":
			kind = numbers.ReplaceAllString(a.Value.String(), "N")
		case "status":
			status = a.Value.String()
		}
		return true
	})
	if status != "0" && status != "" {
		kind = "HTTP " + status + ": " + kind
	}
	if len(kind) > 120 {
		kind = kind[:120]
	}
	d.mu.Lock()
	d.counts[kind]++
	d.mu.Unlock()
	return nil
}

func (d *dialErrors) WithAttrs([]slog.Attr) slog.Handler { return d }
func (d *dialErrors) WithGroup(string) slog.Handler      { return d }

// take returns the counts, most frequent first, and resets them.
func (d *dialErrors) take() []string {
	d.mu.Lock()
	c := d.counts
	d.counts = make(map[string]int)
	d.mu.Unlock()
	keys := slices.Collect(maps.Keys(c))
	slices.SortFunc(keys, func(a, b string) int { return c[b] - c[a] })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s ×%d", strings.TrimSpace(k), c[k]))
	}
	return out
}
