package edgehub

import (
	"slices"
	"sort"
)

// MemoryOutbox as Config.OutboxPath keeps the outbox in memory instead of SQLite: the same order,
// coalescing, budget and expiry, but nothing survives a restart of the process. It is meant for
// simulated ("hollow") nodes and tests that run thousands of edge hubs in one process, where a SQLite
// file per node would cost several file descriptors each; a real edge node wants the durable outbox.
const MemoryOutbox = ":memory:"

// memRows is the in-memory outbox's table: rows in increasing ID order. Every method is called with
// outbox.mu held. Operations are linear in the rows held, which is fine for the small outboxes of
// simulated nodes.
type memRows struct {
	rows   []row
	lastID int64
}

// put inserts r (of size bytes) as the outbox's put does: it coalesces, then drops the oldest rows
// (non-writes first) while over budget; it updates o's counters and returns r's ID.
func (m *memRows) put(o *outbox, r *row, size int64) int64 {
	var dRows, dBytes int64
	if r.coalesce {
		m.rows = slices.DeleteFunc(m.rows, func(x row) bool {
			if x.coalesce && x.resource == r.resource {
				dRows++
				dBytes += x.size()
				return true
			}
			return false
		})
		o.coalesced += uint64(dRows)
	}
	m.lastID++
	nr := *r
	nr.id = m.lastID
	m.rows = append(m.rows, nr)
	for o.bytes-dBytes+size > o.maxBytes {
		victim := -1
		for i := range m.rows[:len(m.rows)-1] {
			if !m.rows[i].coalesce {
				victim = i
				break
			}
			if victim < 0 {
				victim = i
			}
		}
		if victim < 0 {
			break // only r is left, and it fits the budget (put checked)
		}
		dRows, dBytes = dRows+1, dBytes+m.rows[victim].size()
		o.dropped++
		m.rows = slices.Delete(m.rows, victim, victim+1)
	}
	o.rows += 1 - dRows
	o.bytes += size - dBytes
	return nr.id
}

// after returns up to limit rows with IDs above id that are not acknowledged.
func (m *memRows) after(id int64, limit int, acked map[int64]struct{}) []row {
	i := sort.Search(len(m.rows), func(i int) bool { return m.rows[i].id > id })
	var out []row
	for ; i < len(m.rows) && len(out) < limit; i++ {
		if _, done := acked[m.rows[i].id]; done {
			continue
		}
		out = append(out, m.rows[i])
	}
	return out
}

// remove deletes the rows with these IDs and returns how many rows and bytes left.
func (m *memRows) remove(ids []int64) (n, b int64) {
	gone := make(map[int64]struct{}, len(ids))
	for _, id := range ids {
		gone[id] = struct{}{}
	}
	m.rows = slices.DeleteFunc(m.rows, func(x row) bool {
		if _, ok := gone[x.id]; ok {
			n, b = n+1, b+x.size()
			return true
		}
		return false
	})
	return n, b
}

// expire deletes the rows created before cut (Unix nanoseconds).
func (m *memRows) expire(cut int64) (n, b int64) {
	m.rows = slices.DeleteFunc(m.rows, func(x row) bool {
		if x.created < cut {
			n, b = n+1, b+x.size()
			return true
		}
		return false
	})
	return n, b
}
