package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
)

// migrate brings the file at w to len(ms) and returns the resulting version. The steps and the new
// user_version are one IMMEDIATE transaction: all of them happen or none.
func migrate(ctx context.Context, w *sql.DB, path string, ms []Migration) (int, error) {
	want := len(ms)
	v, err := userVersion(ctx, w)
	if err != nil {
		return 0, fmt.Errorf("sqlitedb: open %s: %w", path, Classify(err))
	}
	if v > want {
		return 0, tooNew(path, v, want)
	}
	if v == want {
		return v, nil
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlitedb: migrate %s: %w", path, Classify(err))
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	// Another process may have migrated between the first read and the write lock.
	var cur int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&cur); err != nil {
		return 0, fmt.Errorf("sqlitedb: migrate %s: %w", path, Classify(err))
	}
	if cur > want {
		return 0, tooNew(path, cur, want)
	}
	for i := cur; i < want; i++ {
		m := ms[i]
		if m.Func != nil {
			err = m.Func(ctx, tx)
		} else {
			_, err = tx.ExecContext(ctx, m.SQL)
		}
		if err != nil {
			return 0, fmt.Errorf("%w: %s: step %d (%s): %w", ErrMigration, path, i+1, m.Name, Classify(err))
		}
	}
	// PRAGMA takes no bound parameters; want is an int we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", want)); err != nil {
		return 0, fmt.Errorf("%w: %s: set version %d: %w", ErrMigration, path, want, Classify(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("%w: %s: commit: %w", ErrMigration, path, Classify(err))
	}
	return want, nil
}

func userVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

func tooNew(path string, have, know int) error {
	return fmt.Errorf("%w: %s is at schema version %d, this program knows versions up to %d", ErrSchemaTooNew, path, have, know)
}
