package edgehub

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/edgehive/edgehive/beehive"
	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// The outbox schema. AUTOINCREMENT keeps row IDs from being reused, so a late ack (Seq = row ID) never
// matches a newer row.
var outboxMigrations = []sqlitedb.Migration{{
	Name: "outbox",
	SQL: `CREATE TABLE outbox (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	resource TEXT    NOT NULL,
	coal     INTEGER NOT NULL, -- 1: an object write, coalesced per resource (the newest wins)
	op       TEXT    NOT NULL,
	grp      TEXT    NOT NULL,
	rv       TEXT    NOT NULL,
	msg_id   TEXT    NOT NULL,
	created  INTEGER NOT NULL, -- Unix nanoseconds
	size     INTEGER NOT NULL,
	content  BLOB
);
CREATE INDEX outbox_resource ON outbox(resource) WHERE coal = 1;
CREATE INDEX outbox_created ON outbox(created);`,
}}

// row is one upstream message waiting for the cloud's ack.
type row struct {
	id       int64
	resource string
	coalesce bool
	op       beehive.Operation
	group    beehive.Group
	rv       string
	msgID    beehive.ID
	created  int64
	content  []byte
}

func (r *row) size() int64 { return int64(len(r.content) + len(r.resource) + len(r.rv) + 64) }

func (r *row) frame() hub.Frame {
	return hub.Frame{
		Header:  beehive.Header{ID: r.msgID, Timestamp: r.created, ResourceVersion: r.rv},
		Router:  beehive.Router{Source: Name, Group: r.group, Operation: r.op, Resource: r.resource},
		Seq:     uint64(r.id),
		Content: r.content,
	}
}

// outbox is the durable queue of upstream messages (see Config.OutboxMaxBytes for its policy).
type outbox struct {
	db       *sqlitedb.DB // nil for the in-memory outbox (MemoryOutbox): mem holds the rows
	mem      *memRows
	maxBytes int64
	maxAge   time.Duration

	mu                          sync.Mutex
	rows, bytes                 int64
	dropped, expired, coalesced uint64
	// acked holds the IDs the cloud has answered, not yet deleted: the deleter removes them in
	// batches (one transaction, one fsync for many acks), and reads skip them meanwhile.
	acked   map[int64]struct{}
	ackWake chan struct{}
}

func openOutbox(ctx context.Context, path string, maxBytes int64, maxAge time.Duration, relaxed bool) (*outbox, error) {
	if path == MemoryOutbox {
		return &outbox{mem: &memRows{}, maxBytes: maxBytes, maxAge: maxAge, acked: make(map[int64]struct{}), ackWake: make(chan struct{}, 1)}, nil
	}
	opts := sqlitedb.Options{Migrations: outboxMigrations, ReadConns: 2}
	if relaxed {
		opts.Synchronous = sqlitedb.SyncNormal
	}
	db, err := sqlitedb.Open(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("edgehub: open outbox: %w", err)
	}
	o := &outbox{db: db, maxBytes: maxBytes, maxAge: maxAge, acked: make(map[int64]struct{}), ackWake: make(chan struct{}, 1)}
	err = db.Reader().QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM outbox`).Scan(&o.rows, &o.bytes)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("edgehub: open outbox: %w", err)
	}
	return o, nil
}

func (o *outbox) close() error {
	if o.db == nil {
		return nil
	}
	return o.db.Close()
}

// put adds r, replacing the older rows of its resource if it coalesces, and drops the oldest rows
// (non-writes first) while the outbox is over its budget. It returns r's ID.
func (o *outbox) put(ctx context.Context, r *row) (int64, error) {
	size := r.size()
	if size > o.maxBytes {
		return 0, fmt.Errorf("%w: %d bytes, budget %d", ErrTooLarge, size, o.maxBytes)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return o.mem.put(o, r, size), nil
	}
	var id, dRows, dBytes int64
	var dropped, coalesced uint64
	err := o.db.Write(ctx, func(tx *sql.Tx) error {
		dRows, dBytes, dropped, coalesced = 0, 0, 0, 0
		if r.coalesce {
			var n, b int64
			if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM outbox WHERE coal = 1 AND resource = ?`, r.resource).Scan(&n, &b); err != nil {
				return err
			}
			if n > 0 {
				if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE coal = 1 AND resource = ?`, r.resource); err != nil {
					return err
				}
				dRows, dBytes, coalesced = n, b, uint64(n)
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox (resource, coal, op, grp, rv, msg_id, created, size, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.resource, r.coalesce, string(r.op), string(r.group), r.rv, r.msgID.String(), r.created, size, r.content)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		for o.bytes-dBytes+size > o.maxBytes {
			var vid, vsize int64
			err := tx.QueryRowContext(ctx, `SELECT id, size FROM outbox WHERE id != ? ORDER BY coal, id LIMIT 1`, id).Scan(&vid, &vsize)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, vid); err != nil {
				return err
			}
			dRows, dBytes, dropped = dRows+1, dBytes+vsize, dropped+1
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("edgehub: outbox put: %w", err)
	}
	o.rows += 1 - dRows
	o.bytes += size - dBytes
	o.dropped += dropped
	o.coalesced += coalesced
	return id, nil
}

// after returns up to limit rows with IDs above id, oldest first.
func (o *outbox) after(ctx context.Context, id int64, limit int) ([]row, error) {
	if o.db == nil {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.mem.after(id, limit, o.acked), nil
	}
	rs, err := o.db.Reader().QueryContext(ctx, `SELECT id, resource, coal, op, grp, rv, msg_id, created, content FROM outbox WHERE id > ? ORDER BY id LIMIT ?`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("edgehub: outbox read: %w", err)
	}
	defer rs.Close()
	var out []row
	o.mu.Lock()
	defer o.mu.Unlock()
	for rs.Next() {
		var r row
		var op, grp, mid string
		if err := rs.Scan(&r.id, &r.resource, &r.coalesce, &op, &grp, &r.rv, &mid, &r.created, &r.content); err != nil {
			return nil, fmt.Errorf("edgehub: outbox read: %w", err)
		}
		r.op, r.group = beehive.Operation(op), beehive.Group(grp)
		r.msgID, _ = beehive.ParseID(mid)
		if _, done := o.acked[r.id]; done {
			continue
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("edgehub: outbox read: %w", err)
	}
	return out, nil
}

// ack marks the row id answered by the cloud; flushAcks deletes it.
func (o *outbox) ack(id int64) {
	o.mu.Lock()
	o.acked[id] = struct{}{}
	o.mu.Unlock()
	select {
	case o.ackWake <- struct{}{}:
	default:
	}
}

// flushAcks deletes the answered rows in one transaction.
func (o *outbox) flushAcks(ctx context.Context) error {
	o.mu.Lock()
	ids := make([]int64, 0, len(o.acked))
	for id := range o.acked {
		ids = append(ids, id)
	}
	o.mu.Unlock()
	if len(ids) == 0 {
		return nil
	}
	if err := o.remove(ctx, ids); err != nil {
		return err
	}
	o.mu.Lock()
	for _, id := range ids {
		delete(o.acked, id)
	}
	o.mu.Unlock()
	return nil
}

// deleter runs flushAcks whenever acks arrive, until ctx ends, then once more.
func (o *outbox) deleter(ctx context.Context, log func(error)) {
	for {
		select {
		case <-o.ackWake:
			if err := o.flushAcks(ctx); err != nil && ctx.Err() == nil {
				log(err)
			}
		case <-ctx.Done():
			if err := o.flushAcks(context.Background()); err != nil {
				log(err)
			}
			return
		}
	}
}

// remove deletes the rows with these IDs (acknowledged or refused by the cloud).
func (o *outbox) remove(ctx context.Context, ids []int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		n, b := o.mem.remove(ids)
		o.rows -= n
		o.bytes -= b
		return nil
	}
	var n, b int64
	err := o.db.Write(ctx, func(tx *sql.Tx) error {
		n, b = 0, 0
		for _, id := range ids {
			var size int64
			err := tx.QueryRowContext(ctx, `DELETE FROM outbox WHERE id = ? RETURNING size`, id).Scan(&size)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return err
			}
			n, b = n+1, b+size
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("edgehub: outbox remove: %w", err)
	}
	o.rows -= n
	o.bytes -= b
	return nil
}

// expire drops the rows older than maxAge.
func (o *outbox) expire(ctx context.Context, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	cut := now.Add(-o.maxAge).UnixNano()
	if o.db == nil {
		n, b := o.mem.expire(cut)
		o.rows -= n
		o.bytes -= b
		o.expired += uint64(n)
		return nil
	}
	var n, b int64
	err := o.db.Write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM outbox WHERE created < ?`, cut).Scan(&n, &b); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE created < ?`, cut)
		return err
	})
	if err != nil {
		return fmt.Errorf("edgehub: outbox expire: %w", err)
	}
	o.rows -= n
	o.bytes -= b
	o.expired += uint64(n)
	return nil
}

// OutboxStats describe the outbox.
type OutboxStats struct {
	Rows, Bytes int64
	// Dropped counts messages dropped to stay within OutboxMaxBytes, Expired those older than
	// OutboxMaxAge, Coalesced those replaced by a newer write of the same resource.
	Dropped, Expired, Coalesced uint64
}

func (o *outbox) stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return OutboxStats{Rows: o.rows, Bytes: o.bytes, Dropped: o.dropped, Expired: o.expired, Coalesced: o.coalesced}
}
