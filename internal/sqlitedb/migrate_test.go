package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

func TestMigrationsApplyInOrderOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	var ran []string
	step := func(name, q string) Migration {
		return Migration{Name: name, Func: func(ctx context.Context, tx *sql.Tx) error {
			ran = append(ran, name)
			_, err := tx.ExecContext(ctx, q)
			return err
		}}
	}
	ms := []Migration{
		step("one", `CREATE TABLE a (x INTEGER)`),
		step("two", `ALTER TABLE a ADD COLUMN y INTEGER`),
	}
	db := openT(t, path, Options{Migrations: ms[:1]})
	if db.SchemaVersion() != 1 {
		t.Fatalf("version = %d, want 1", db.SchemaVersion())
	}
	_ = db.Close()

	db = openT(t, path, Options{Migrations: ms})
	if db.SchemaVersion() != 2 {
		t.Fatalf("version = %d, want 2", db.SchemaVersion())
	}
	if _, err := db.Writer().ExecContext(ctx, `INSERT INTO a (x, y) VALUES (1, 2)`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	db = openT(t, path, Options{Migrations: ms})
	if got := pragma(t, db.Reader(), "user_version"); got != "2" {
		t.Fatalf("user_version = %s, want 2", got)
	}
	if len(ran) != 2 || ran[0] != "one" || ran[1] != "two" {
		t.Fatalf("ran %v, want [one two] once each", ran)
	}
}

func TestFailedMigrationChangesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	_ = openT(t, path, Options{Migrations: schema[:1]}).Close()
	bad := append(schema[:1:1],
		Migration{Name: "good", SQL: `CREATE TABLE b (x INTEGER)`},
		Migration{Name: "bad", SQL: `CREATE TABLE kv (k TEXT)`}, // kv exists: fails
	)
	_, err := Open(context.Background(), path, Options{Migrations: bad})
	if !errors.Is(err, ErrMigration) {
		t.Fatalf("Open = %v, want ErrMigration", err)
	}
	db := openT(t, path, Options{Migrations: schema[:1]})
	if got := pragma(t, db.Reader(), "user_version"); got != "1" {
		t.Fatalf("user_version = %s after a failed migration, want 1", got)
	}
	var n int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'b'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("table b exists (%d, %v): the failed migration was not rolled back", n, err)
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	_ = openT(t, path, Options{Migrations: schema}).Close()
	_, err := Open(context.Background(), path, Options{Migrations: schema[:1]})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open with an older program = %v, want ErrSchemaTooNew", err)
	}
	// No migrations at all (a program that knows no schema) is refused as well.
	if _, err := Open(context.Background(), path, Options{}); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open without migrations = %v, want ErrSchemaTooNew", err)
	}
}
