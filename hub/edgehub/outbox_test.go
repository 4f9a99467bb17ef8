package edgehub

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgehive/edgehive/hub"
)

// TestOutboxImplementations runs one suite against the SQLite outbox and the in-memory one
// (MemoryOutbox): order, coalescing, acks, the budget's drop order, and expiry.
func TestOutboxImplementations(t *testing.T) {
	for name, path := range map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return filepath.Join(t.TempDir(), "outbox.db") },
		"memory": func(*testing.T) string { return MemoryOutbox },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			mk := func(res string, coal bool, created int64, n int) *row {
				return &row{resource: res, coalesce: coal, op: hub.OpUpdate, rv: "1", created: created, content: make([]byte, n)}
			}
			size := mk("default/pod/a", true, 0, 100).size()
			box, err := openOutbox(ctx, path(t), 4*size, time.Hour, true)
			if err != nil {
				t.Fatal(err)
			}
			defer box.close()
			now := time.Now().UnixNano()
			put := func(r *row) int64 {
				t.Helper()
				id, err := box.put(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				return id
			}
			a1 := put(mk("default/pod/a", true, now, 100))
			pub := put(mk("topic", false, now, 100))
			a2 := put(mk("default/pod/a", true, now, 100)) // replaces a1
			b := put(mk("default/pod/b", true, now, 100))
			ids := func() []int64 {
				t.Helper()
				rows, err := box.after(ctx, 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				var out []int64
				for _, r := range rows {
					out = append(out, r.id)
				}
				return out
			}
			if got := ids(); len(got) != 3 || got[0] != pub || got[1] != a2 || got[2] != b || a1 >= a2 {
				t.Fatalf("rows %v, want [%d %d %d]", got, pub, a2, b)
			}
			// Over budget: the publish goes first, then the oldest write.
			c := put(mk("default/pod/c", true, now, 100))
			d := put(mk("default/pod/d", true, now, 100))
			if got := ids(); len(got) != 4 || got[0] != a2 || got[3] != d {
				t.Fatalf("after the budget: rows %v", got)
			}
			e := put(mk("default/pod/e", true, now, 100))
			if got := ids(); len(got) != 4 || got[0] != b || got[3] != e {
				t.Fatalf("after the budget: rows %v", got)
			}
			st := box.stats()
			if st.Rows != 4 || st.Bytes != 4*size || st.Dropped != 2 || st.Coalesced != 1 {
				t.Fatalf("stats %+v", st)
			}
			box.ack(b)
			if got := ids(); len(got) != 3 || got[0] != c {
				t.Fatalf("acked row still read: %v", got)
			}
			if err := box.flushAcks(ctx); err != nil {
				t.Fatal(err)
			}
			old := put(mk("default/pod/f", true, now-int64(2*time.Hour), 10))
			if err := box.expire(ctx, time.Now()); err != nil {
				t.Fatal(err)
			}
			if got := ids(); len(got) != 3 || got[2] == old {
				t.Fatalf("after expiry: rows %v", got)
			}
			if st := box.stats(); st.Rows != 3 || st.Expired != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}
