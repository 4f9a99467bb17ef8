package eventbus

import (
	"slices"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	b := backoff{min: 100 * ms, max: 1000 * ms}
	var got []time.Duration
	for range 6 { // connection attempts failing
		got = append(got, b.next())
	}
	b.ended(500 * ms) // a short connection: keep backing off
	got = append(got, b.next())
	b.ended(time.Second) // a stable one: start over
	got = append(got, b.next(), b.next())
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1000 * ms, 1000 * ms, 1000 * ms, 100 * ms, 200 * ms}
	if !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	for range 1000 {
		if d := jitter(100 * ms); d < 50*ms || d > 100*ms {
			t.Fatalf("jitter(100ms) = %v", d)
		}
	}
}
