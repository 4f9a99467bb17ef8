package sqlitedb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgehive/edgehive/internal/sqlitedb"
)

// Open a file with a two-step schema, write through the single writer, read through the pool, and tell
// a duplicate key from other failures by its SQLite code.
func Example() {
	dir, err := os.MkdirTemp("", "sqlitedb-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	db, err := sqlitedb.Open(ctx, filepath.Join(dir, "app.db"), sqlitedb.Options{
		Migrations: []sqlitedb.Migration{
			{Name: "items", SQL: `CREATE TABLE item (key TEXT PRIMARY KEY, value TEXT NOT NULL)`},
			{Name: "item size", SQL: `ALTER TABLE item ADD COLUMN size INTEGER NOT NULL DEFAULT 0`},
		},
	})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	fmt.Println("schema version:", db.SchemaVersion())

	insert := func(key string) error {
		return db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO item (key, value) VALUES (?, 'v')`, key)
			return err
		})
	}
	if err := insert("a"); err != nil {
		panic(err)
	}
	err = insert("a")
	fmt.Println("duplicate key:", errors.Is(err, sqlitedb.ErrUnique), sqlitedb.IsUnique(err))

	var n int
	if err := db.Reader().QueryRowContext(ctx, `SELECT count(*) FROM item`).Scan(&n); err != nil {
		panic(err)
	}
	fmt.Println("items:", n)
	// Output:
	// schema version: 2
	// duplicate key: true true
	// items: 1
}
