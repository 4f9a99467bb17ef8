// Package sqlitedb is edgehive's one way to open a SQLite file (github.com/mattn/go-sqlite3): the meta
// store, the twin store and the hub's outbox all open their files through it, so that they share one set
// of settings, one migration scheme and one classification of SQLite errors.
//
// # Use
//
//	db, err := sqlitedb.Open(ctx, "/var/lib/edgehive/twin.db", sqlitedb.Options{
//		Migrations: []sqlitedb.Migration{
//			{Name: "devices", SQL: `CREATE TABLE device (id TEXT PRIMARY KEY, value TEXT NOT NULL)`},
//			{Name: "device state", SQL: `ALTER TABLE device ADD COLUMN state TEXT NOT NULL DEFAULT ''`},
//		},
//	})
//	defer db.Close()
//	err = db.Write(ctx, func(tx *sql.Tx) error { _, err := tx.ExecContext(ctx, `INSERT …`); return err })
//	row := db.Reader().QueryRowContext(ctx, `SELECT …`)
//
// # What every connection gets
//
//   - journal_mode=WAL: readers never block the writer and the writer never blocks readers. Open fails if
//     the file system cannot give WAL mode.
//   - synchronous=FULL by default: the WAL is fsynced at every commit, so a transaction that committed
//     survives a power cut, not just a crash of the process. Options.Synchronous = SyncNormal fsyncs only
//     at checkpoints: a commit still survives the process being killed (the data is in the OS page cache),
//     but the last transactions before a power loss or kernel panic may be rolled back. The file is never
//     corrupted either way.
//   - busy_timeout (DefaultBusyTimeout): a connection that meets a lock held by another process waits up to
//     this long before failing with SQLITE_BUSY.
//   - foreign_keys=ON.
//
// # One writer
//
// SQLite allows one writer at a time. A DB holds two database/sql pools on the same file:
//
//   - the writer, with exactly one connection (SetMaxOpenConns(1)); its transactions start with BEGIN
//     IMMEDIATE, so a transaction takes the write lock when it begins and never fails half-way with a
//     lock upgrade error. Writers of one process queue in Go for that connection (honouring their
//     contexts) instead of spinning in SQLite's busy handler.
//   - the readers (Options.ReadConns connections, PRAGMA query_only=ON), which read committed snapshots
//     concurrently with the writer.
//
// Use Write (or Writer) for anything that changes the file, and Reader for queries. Another process
// writing the same file is serialized by SQLite's file lock and busy_timeout.
//
// # Schema versions
//
// Options.Migrations is the ordered list of schema steps; the schema version is the number of steps
// applied, kept in PRAGMA user_version. Open applies the missing steps in one IMMEDIATE transaction
// (together with the new user_version), so a crash or a failing step leaves the file at its old version.
// A file whose version is newer than len(Migrations) was written by a newer program: Open refuses it with
// ErrSchemaTooNew rather than risk misreading it. Never edit or reorder a released migration; append.
//
// # Errors
//
// SQLite errors are classified by their result codes (sqlite3.Error Code and ExtendedCode), never by
// their text: IsBusy, IsConstraint, IsUnique, IsForeignKey, IsCorrupt, IsFull. Errors returned by this
// package's own methods are also annotated with the matching sentinel, so errors.Is(err, ErrUnique) works
// on them; Classify does the same for an error obtained from Reader or Writer directly.
//
// # Paths
//
// Path is a file name (relative names are made absolute); ":memory:" and "file:" URIs are refused, since
// the two pools must reach the same file.
package sqlitedb
