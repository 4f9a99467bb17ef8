package edgehub

import (
	"errors"
	"testing"
	"time"
)

func TestBackoffFullJitter(t *testing.T) {
	e := &EdgeHub{cfg: Config{BackoffInitial: 100 * time.Millisecond, BackoffMax: time.Second}}
	for n, limit := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		limit *= time.Millisecond
		var lo, hi time.Duration = limit, 0
		for range 2000 {
			d := e.backoff(n)
			if d < 0 || d > limit {
				t.Fatalf("backoff(%d) = %v, outside [0, %v]", n, d, limit)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo > limit/10 || hi < limit*9/10 { // full jitter spreads over the whole range
			t.Errorf("backoff(%d) spread [%v, %v] of [0, %v]", n, lo, hi, limit)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{URL: "wss://cloud:10000/v1/hub", OutboxPath: "/tmp/x.db"}
	good.TLS = nil
	for name, c := range map[string]Config{
		"no url":   {OutboxPath: "x"},
		"http url": {URL: "https://cloud/v1/hub", OutboxPath: "x"},
		"no tls":   good,
	} {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
