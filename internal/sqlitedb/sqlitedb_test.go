package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var schema = []Migration{
	{Name: "kv", SQL: `CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)`},
	{Name: "parent/child", SQL: `
		CREATE TABLE parent (id INTEGER PRIMARY KEY);
		CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER NOT NULL REFERENCES parent(id))`},
}

func openT(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func pragma(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, name string) string {
	t.Helper()
	var s string
	if err := q.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&s); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return s
}

func TestOpenSettings(t *testing.T) {
	for _, tc := range []struct {
		sync Synchronous
		want string // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{SyncFull, "2"}, {SyncNormal, "1"}} {
		t.Run(tc.sync.String(), func(t *testing.T) {
			db := openT(t, filepath.Join(t.TempDir(), "x.db"), Options{Synchronous: tc.sync, BusyTimeout: 1234 * time.Millisecond})
			for _, pool := range []*sql.DB{db.Writer(), db.Reader()} {
				if got := pragma(t, pool, "journal_mode"); got != "wal" {
					t.Errorf("journal_mode = %q, want wal", got)
				}
				if got := pragma(t, pool, "synchronous"); got != tc.want {
					t.Errorf("synchronous = %s, want %s", got, tc.want)
				}
				if got := pragma(t, pool, "foreign_keys"); got != "1" {
					t.Errorf("foreign_keys = %s, want 1", got)
				}
				if got := pragma(t, pool, "busy_timeout"); got != "1234" {
					t.Errorf("busy_timeout = %s, want 1234", got)
				}
			}
			if got := pragma(t, db.Reader(), "query_only"); got != "1" {
				t.Errorf("reader query_only = %s, want 1", got)
			}
			if got := pragma(t, db.Writer(), "query_only"); got != "0" {
				t.Errorf("writer query_only = %s, want 0", got)
			}
			if s := db.Writer().Stats(); s.MaxOpenConnections != 1 {
				t.Errorf("writer pool has %d connections, want 1", s.MaxOpenConnections)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{
		{Synchronous: 9},
		{BusyTimeout: -1},
		{ReadConns: -1},
		{Migrations: []Migration{{Name: "empty"}}},
		{Migrations: []Migration{{Name: "both", SQL: "SELECT 1", Func: func(context.Context, *sql.Tx) error { return nil }}}},
	}
	for i, o := range bad {
		if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("case %d: Open = %v, want ErrInvalidOptions", i, err)
		}
	}
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := Open(context.Background(), p, Options{}); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("path %q: Open = %v, want ErrInvalidOptions", p, err)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd ?#% dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a?b#c%20.db")
	db := openT(t, path, Options{Migrations: schema[:1]})
	if err := db.Write(context.Background(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO kv VALUES ('a', 'b')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file was not created under its literal name: %v", err)
	}
	if db.Path() != path {
		t.Errorf("Path = %q, want %q", db.Path(), path)
	}
}

func TestWriteCommitsAndRollsBack(t *testing.T) {
	ctx := context.Background()
	db := openT(t, filepath.Join(t.TempDir(), "x.db"), Options{Migrations: schema})
	put := func(k string) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES (?, 'v')`, k)
			return err
		}
	}
	if err := db.Write(ctx, put("a")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := db.Write(ctx, func(tx *sql.Tx) error { _ = put("b")(tx); return boom }); !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want boom", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		_ = db.Write(ctx, func(tx *sql.Tx) error { _ = put("c")(tx); panic("oops") })
	}()
	var n int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM kv`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows = %d (%v), want 1: rolled-back writes leaked", n, err)
	}
	// The writer connection is usable after the panic.
	if err := db.Write(ctx, put("d")); err != nil {
		t.Fatal(err)
	}
	// Readers cannot write.
	if _, err := db.Reader().Exec(`INSERT INTO kv VALUES ('e', 'v')`); err == nil {
		t.Fatal("a reader connection wrote")
	}
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	ctx := context.Background()
	db := openT(t, filepath.Join(t.TempDir(), "x.db"), Options{Migrations: schema, Synchronous: SyncNormal})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				k := strings.Repeat("k", w+1) + string(rune('0'+i%10)) + string(rune('a'+i/10))
				if err := db.Write(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO kv VALUES (?, 'v')`, k)
					return err
				}); err != nil {
					errs <- err
					return
				}
				var n int
				if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM kv`).Scan(&n); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent use: %v (busy=%v)", err, IsBusy(err))
	}
	var n int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM kv`).Scan(&n); err != nil || n != 400 {
		t.Fatalf("rows = %d (%v), want 400", n, err)
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"), Options{Migrations: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	err = db.Write(context.Background(), func(*sql.Tx) error { return nil })
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close = %v, want ErrClosed", err)
	}
}

func TestIntegrityCheck(t *testing.T) {
	db := openT(t, filepath.Join(t.TempDir(), "x.db"), Options{Migrations: schema})
	if err := db.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}
