package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/edgehive/edgehive/hub"
	"github.com/edgehive/edgehive/internal/sqlitedb"
)

type writeOp uint8

const (
	opPut writeOp = iota
	opDelete
)

// writeReq is one caller's write, queued for the writer goroutine; done (buffered) gets its result once
// the transaction holding it has committed or failed.
type writeReq struct {
	op    writeOp
	key   hub.Key
	rv    string
	value []byte
	done  chan writeResult
}

type writeResult struct {
	rev int64
	err error
}

// Put implements Store.
func (s *SQLiteStore) Put(ctx context.Context, key hub.Key, resourceVersion string, value []byte) (int64, error) {
	if err := checkKey(key, s.accept); err != nil {
		return 0, err
	}
	if err := checkValue(key, value, s.cfg.MaxValueBytes); err != nil {
		return 0, err
	}
	return s.submit(ctx, &writeReq{op: opPut, key: key, rv: resourceVersion, value: value})
}

// Delete implements Store.
func (s *SQLiteStore) Delete(ctx context.Context, key hub.Key, resourceVersion string) (int64, error) {
	if err := key.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadKey, err)
	}
	return s.submit(ctx, &writeReq{op: opDelete, key: key, rv: resourceVersion})
}

// submit queues r for the writer and waits for its commit. If ctx ends first the write may still be
// committed later; the caller only stops waiting.
func (s *SQLiteStore) submit(ctx context.Context, r *writeReq) (int64, error) {
	r.done = make(chan writeResult, 1)
	select {
	case <-s.closing:
		return 0, ErrClosed
	default:
	}
	select {
	case s.reqs <- r:
	case <-s.closing:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.rev, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.done:
		select {
		case res := <-r.done:
			return res.rev, res.err
		default:
			return 0, ErrClosed
		}
	}
}

// writer is the store's single writer goroutine and its prepared statements.
type writer struct {
	s                     *SQLiteStore
	ctx                   context.Context
	cancel                context.CancelFunc
	get, upsert, del, rev *sql.Stmt
	batch                 []*writeReq
}

func newWriter(s *SQLiteStore) (*writer, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{s: s, ctx: ctx, cancel: cancel}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&w.get, `SELECT resource_version, revision, value FROM objects WHERE key = ?`},
		{&w.upsert, `INSERT INTO objects (key, kind, namespace, name, resource_version, revision, value)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET resource_version = excluded.resource_version,
				revision = excluded.revision, value = excluded.value`},
		{&w.del, `DELETE FROM objects WHERE key = ?`},
		{&w.rev, `UPDATE store_state SET revision = ? WHERE id = 1`},
	} {
		st, err := s.db.Writer().PrepareContext(ctx, p.q)
		if err != nil {
			w.closeStmts()
			cancel()
			return nil, fmt.Errorf("meta: prepare: %w", sqlitedb.Classify(err))
		}
		*p.st = st
	}
	return w, nil
}

func (w *writer) closeStmts() {
	for _, st := range []*sql.Stmt{w.get, w.upsert, w.del, w.rev} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// run takes the queued writes in batches of up to MaxBatch and commits each batch in one transaction:
// while one transaction commits, the next callers queue up, so the batch grows with the load.
func (w *writer) run() {
	defer close(w.s.done)
	defer w.cancel()
	defer w.closeStmts()
	for {
		select {
		case r := <-w.s.reqs:
			w.batch = append(w.batch[:0], r)
		case <-w.s.closing:
			w.failQueued()
			return
		}
	drain:
		for len(w.batch) < w.s.cfg.MaxBatch {
			select {
			case r := <-w.s.reqs:
				w.batch = append(w.batch, r)
			default:
				break drain
			}
		}
		w.commit(w.batch)
		clear(w.batch)
	}
}

func (w *writer) failQueued() {
	for {
		select {
		case r := <-w.s.reqs:
			r.done <- writeResult{err: ErrClosed}
		default:
			return
		}
	}
}

// commit applies batch in one transaction. If a statement fails (not a version conflict, which is a
// per-write answer), the transaction is rolled back and, for a batch of several writes, each write is
// retried alone so that one failure does not fail the others.
func (w *writer) commit(batch []*writeReq) {
	results, events, rev, err := w.apply(batch)
	if err != nil {
		if len(batch) > 1 {
			for _, r := range batch {
				w.commit([]*writeReq{r})
			}
			return
		}
		batch[0].done <- writeResult{err: err}
		return
	}
	w.s.rev.Store(rev)
	if len(events) > 0 {
		w.s.bc.publish(events)
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

func (w *writer) apply(batch []*writeReq) (results []writeResult, events []Event, rev int64, err error) {
	tx, err := w.s.db.Writer().BeginTx(w.ctx, nil)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("meta: begin: %w", sqlitedb.Classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	rev = w.s.rev.Load()
	results = make([]writeResult, len(batch))
	get, upsert, del := tx.Stmt(w.get), tx.Stmt(w.upsert), tx.Stmt(w.del)
	for i, r := range batch {
		var heldRV, heldVal string
		var heldRev int64
		err := get.QueryRowContext(w.ctx, r.key.String()).Scan(&heldRV, &heldRev, &heldVal)
		held := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, nil, 0, fmt.Errorf("meta: read %s: %w", r.key, sqlitedb.Classify(err))
		}
		if held && (r.rv != "" || r.op == opPut) {
			switch CompareVersions(heldRV, r.rv) {
			case Older:
				results[i] = writeResult{rev: heldRev, err: fmt.Errorf("%w: %s holds %q, got %q", ErrStale, r.key, heldRV, r.rv)}
				continue
			case Same:
				if r.op == opPut {
					results[i] = writeResult{rev: heldRev}
					continue
				}
			}
		}
		switch r.op {
		case opPut:
			rev++
			k := r.key
			if _, err := upsert.ExecContext(w.ctx, k.String(), string(k.Kind), k.Namespace, k.Name, r.rv, rev, string(r.value)); err != nil {
				return nil, nil, 0, fmt.Errorf("meta: write %s: %w", r.key, sqlitedb.Classify(err))
			}
			typ := Added
			if held {
				typ = Modified
			}
			events = append(events, Event{Type: typ, Object: Object{Key: k, ResourceVersion: r.rv, Revision: rev, Value: r.value}})
		case opDelete:
			if !held {
				results[i] = writeResult{err: fmt.Errorf("%w: %s", ErrNotFound, r.key)}
				continue
			}
			rev++
			if _, err := del.ExecContext(w.ctx, r.key.String()); err != nil {
				return nil, nil, 0, fmt.Errorf("meta: delete %s: %w", r.key, sqlitedb.Classify(err))
			}
			events = append(events, Event{Type: Deleted, Object: Object{Key: r.key, ResourceVersion: heldRV, Revision: rev, Value: []byte(heldVal)}})
		}
		results[i].rev = rev
	}
	if len(events) > 0 {
		if _, err := tx.Stmt(w.rev).ExecContext(w.ctx, rev); err != nil {
			return nil, nil, 0, fmt.Errorf("meta: write revision: %w", sqlitedb.Classify(err))
		}
	}
	if hook := w.s.cfg.BeforeCommit; hook != nil {
		hook(len(batch))
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, 0, fmt.Errorf("meta: commit: %w", sqlitedb.Classify(err))
	}
	return results, events, rev, nil
}
