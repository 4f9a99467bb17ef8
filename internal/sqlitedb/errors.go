package sqlitedb

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// Errors of this package. Compare with errors.Is. The classification sentinels (ErrBusy … ErrFull) are
// attached by code to the driver's error (see Classify); the driver's sqlite3.Error stays reachable with
// errors.As.
var (
	ErrBusy           = errors.New("sqlitedb: database is busy")
	ErrConstraint     = errors.New("sqlitedb: constraint violated")
	ErrUnique         = errors.New("sqlitedb: unique constraint violated")
	ErrForeignKey     = errors.New("sqlitedb: foreign key constraint violated")
	ErrCorrupt        = errors.New("sqlitedb: database file is corrupt")
	ErrFull           = errors.New("sqlitedb: database or disk is full")
	ErrSchemaTooNew   = errors.New("sqlitedb: database schema is newer than this program")
	ErrMigration      = errors.New("sqlitedb: migration failed")
	ErrNoWAL          = errors.New("sqlitedb: WAL journal mode unavailable")
	ErrClosed         = errors.New("sqlitedb: database closed")
	ErrInvalidOptions = errors.New("sqlitedb: invalid options")
)

// Code returns SQLite's primary and extended result codes carried by err (anywhere in its chain), and
// whether err carries them at all.
func Code(err error) (primary, extended int, ok bool) {
	var e sqlite3.Error
	if errors.As(err, &e) {
		return int(e.Code), int(e.ExtendedCode), true
	}
	var pe *sqlite3.Error
	if errors.As(err, &pe) && pe != nil {
		return int(pe.Code), int(pe.ExtendedCode), true
	}
	return 0, 0, false
}

func primaryIs(err error, codes ...sqlite3.ErrNo) bool {
	p, _, ok := Code(err)
	if !ok {
		return false
	}
	for _, c := range codes {
		if p == int(c) {
			return true
		}
	}
	return false
}

// IsBusy reports whether err is SQLITE_BUSY (another connection holds a conflicting lock and the busy
// timeout ran out) or SQLITE_LOCKED (a conflict inside one connection or shared cache). Both mean that
// the operation did nothing and may be retried later.
func IsBusy(err error) bool { return primaryIs(err, sqlite3.ErrBusy, sqlite3.ErrLocked) }

// IsConstraint reports whether err is any SQLITE_CONSTRAINT violation (unique, primary key, foreign key,
// not null, check, …).
func IsConstraint(err error) bool { return primaryIs(err, sqlite3.ErrConstraint) }

// IsUnique reports whether err is a UNIQUE or PRIMARY KEY constraint violation
// (SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY).
func IsUnique(err error) bool {
	_, x, ok := Code(err)
	return ok && (x == int(sqlite3.ErrConstraintUnique) || x == int(sqlite3.ErrConstraintPrimaryKey))
}

// IsForeignKey reports whether err is a FOREIGN KEY constraint violation (SQLITE_CONSTRAINT_FOREIGNKEY).
func IsForeignKey(err error) bool {
	_, x, ok := Code(err)
	return ok && x == int(sqlite3.ErrConstraintForeignKey)
}

// IsCorrupt reports whether err says the file is damaged or not a database (SQLITE_CORRUPT,
// SQLITE_NOTADB).
func IsCorrupt(err error) bool { return primaryIs(err, sqlite3.ErrCorrupt, sqlite3.ErrNotADB) }

// IsFull reports whether err is SQLITE_FULL: the disk is full or the database reached max_page_count.
func IsFull(err error) bool { return primaryIs(err, sqlite3.ErrFull) }

// Classify returns err annotated with the sentinels that match its SQLite result code, so that
// errors.Is(err, ErrBusy) (and ErrConstraint, ErrUnique, ErrForeignKey, ErrCorrupt, ErrFull) holds. An
// error that carries no SQLite code, or one already classified, is returned unchanged; nil stays nil.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var c *classified
	if errors.As(err, &c) {
		return err
	}
	var kinds []error
	switch {
	case IsBusy(err):
		kinds = append(kinds, ErrBusy)
	case IsCorrupt(err):
		kinds = append(kinds, ErrCorrupt)
	case IsFull(err):
		kinds = append(kinds, ErrFull)
	case IsConstraint(err):
		if IsUnique(err) {
			kinds = append(kinds, ErrUnique)
		}
		if IsForeignKey(err) {
			kinds = append(kinds, ErrForeignKey)
		}
		kinds = append(kinds, ErrConstraint)
	}
	if len(kinds) == 0 {
		return err
	}
	return &classified{err: err, kinds: kinds}
}

// classified is a driver error with the sentinels of its code; kinds[0] is the most specific.
type classified struct {
	err   error
	kinds []error
}

func (c *classified) Error() string { return c.kinds[0].Error() + ": " + c.err.Error() }

func (c *classified) Unwrap() []error { return append([]error{c.err}, c.kinds...) }
