package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

// kinds lists the classification of err, for failure messages and comparisons.
func kinds(err error) string {
	var k []string
	for _, c := range []struct {
		name string
		is   func(error) bool
		sent error
	}{
		{"busy", IsBusy, ErrBusy}, {"constraint", IsConstraint, ErrConstraint}, {"unique", IsUnique, ErrUnique},
		{"fk", IsForeignKey, ErrForeignKey}, {"corrupt", IsCorrupt, ErrCorrupt}, {"full", IsFull, ErrFull},
	} {
		if c.is(err) != errors.Is(Classify(err), c.sent) {
			return fmt.Sprintf("Is%s and errors.Is(Classify(err), %v) disagree", c.name, c.sent)
		}
		if c.is(err) {
			k = append(k, c.name)
		}
	}
	return strings.Join(k, ",")
}

func TestClassifyUniqueAndForeignKeyViolations(t *testing.T) {
	ctx := context.Background()
	db := openT(t, filepath.Join(t.TempDir(), "x.db"), Options{Migrations: schema})
	insert := func(q string, args ...any) error {
		return db.Write(ctx, func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, q, args...); return err })
	}
	if err := insert(`INSERT INTO kv VALUES ('a', '1')`); err != nil {
		t.Fatal(err)
	}
	err := insert(`INSERT INTO kv VALUES ('a', '2')`)
	if got := kinds(err); got != "constraint,unique" {
		t.Fatalf("duplicate key: kinds %q, want constraint,unique (err %v)", got, err)
	}
	if !errors.Is(err, ErrUnique) || !errors.Is(err, ErrConstraint) {
		t.Fatalf("Write's error %v is not classified", err)
	}
	var se sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrConstraintPrimaryKey {
		t.Fatalf("driver error not reachable or wrong code: %#v", se)
	}

	err = insert(`INSERT INTO child VALUES (1, 42)`) // no parent 42: foreign keys are on
	if got := kinds(err); got != "constraint,fk" {
		t.Fatalf("missing parent: kinds %q, want constraint,fk (err %v)", got, err)
	}
	// A plain UNIQUE index (not a primary key) has its own extended code.
	if _, err := db.Writer().Exec(`CREATE UNIQUE INDEX kv_v ON kv (v)`); err != nil {
		t.Fatal(err)
	}
	err = insert(`INSERT INTO kv VALUES ('b', '1')`)
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrConstraintUnique || kinds(err) != "constraint,unique" {
		t.Fatalf("unique index: %v (kinds %q)", err, kinds(err))
	}
}

// Two DBs on one file stand for two processes: the second writer meets the first one's lock, waits its
// busy timeout and fails with SQLITE_BUSY.
func TestClassifyBusyBetweenProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	a := openT(t, path, Options{Migrations: schema})
	b := openT(t, path, Options{Migrations: schema, BusyTimeout: 50 * time.Millisecond})

	tx, err := a.Writer().BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	start := time.Now()
	err = b.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES ('x', 'y')`)
		return err
	})
	if got := kinds(err); got != "busy" {
		t.Fatalf("second writer: kinds %q, want busy (err %v)", got, err)
	}
	if p, x, _ := Code(err); p != int(sqlite3.ErrBusy) {
		t.Fatalf("code %d/%d, want SQLITE_BUSY", p, x)
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Fatalf("failed after %v: busy_timeout was not applied", waited)
	}
	// Readers of the other "process" are not blocked by the writer (WAL).
	var n int
	if err := b.Reader().QueryRowContext(ctx, `SELECT count(*) FROM kv`).Scan(&n); err != nil {
		t.Fatalf("read during another process's write: %v", err)
	}
}

// SQLITE_LOCKED: one connection drops a table it is still reading.
func TestClassifyLocked(t *testing.T) {
	ctx := context.Background()
	db := openT(t, filepath.Join(t.TempDir(), "x.db"), Options{Migrations: schema})
	if _, err := db.Writer().Exec(`INSERT INTO kv VALUES ('a', '1'), ('b', '2')`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Writer().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT k FROM kv`)
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no row")
	}
	_, err = conn.ExecContext(ctx, `DROP TABLE kv`)
	_ = rows.Close()
	if p, _, _ := Code(err); p != int(sqlite3.ErrLocked) || kinds(err) != "busy" {
		t.Fatalf("drop while reading: %v (code %d, kinds %q), want SQLITE_LOCKED classified busy", err, p, kinds(err))
	}
}

func TestClassifyNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	junk := []byte(strings.Repeat("this is not a SQLite file. ", 200))
	if err := os.WriteFile(path, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path, Options{Migrations: schema})
	if got := kinds(err); got != "corrupt" || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a junk file: %v (kinds %q), want corrupt", err, got)
	}
}

func TestClassifyFull(t *testing.T) {
	ctx := context.Background()
	db := openT(t, filepath.Join(t.TempDir(), "x.db"), Options{Migrations: schema})
	err := db.Write(ctx, func(tx *sql.Tx) error {
		// max_page_count is per connection: cap the file near its current size, then overflow it.
		if _, err := tx.ExecContext(ctx, `PRAGMA max_page_count = 8`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES ('big', ?)`, strings.Repeat("x", 1<<16))
		return err
	})
	if got := kinds(err); got != "full" || !errors.Is(err, ErrFull) {
		t.Fatalf("overflow: %v (kinds %q), want full", err, got)
	}
}

func TestClassifyLeavesOtherErrorsAlone(t *testing.T) {
	if Classify(nil) != nil {
		t.Fatal("Classify(nil) != nil")
	}
	plain := errors.New("plain")
	if Classify(plain) != plain {
		t.Fatal("a non-SQLite error was changed")
	}
	if kinds(plain) != "" || kinds(context.Canceled) != "" {
		t.Fatal("a non-SQLite error was classified")
	}
	// An error already classified is not wrapped twice.
	e := Classify(sqlite3.Error{Code: sqlite3.ErrBusy})
	if Classify(e) != e {
		t.Fatal("classified twice")
	}
	wrapped := fmt.Errorf("ctx: %w", sqlite3.Error{Code: sqlite3.ErrCorrupt})
	if !IsCorrupt(wrapped) || !errors.Is(Classify(wrapped), ErrCorrupt) {
		t.Fatal("a wrapped driver error was not classified")
	}
}
