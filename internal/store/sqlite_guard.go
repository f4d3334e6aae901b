package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrUnavailable: the store can no longer keep what it is given where the
// next start will read it (its file was removed, replaced or is corrupt).
// Writes fail with it until the process restarts; a webhook delivery is then
// answered 503 so that the sender retries.
var ErrUnavailable = errors.New("store: unavailable")

// ErrCorrupt: the database file is corrupt. It is also ErrUnavailable.
var ErrCorrupt = errors.New("store: database file is corrupt")

// FaultError says why a SQLite store stopped accepting writes, and what the
// user does about it.
type FaultError struct {
	Path    string
	Reason  string // "removed", "replaced", or what found the corruption
	Corrupt bool
}

func (e *FaultError) Error() string {
	if e.Corrupt {
		reason := strings.Join(strings.Fields(e.Reason), " ") // one line
		if len(reason) > 200 {
			reason = reason[:200] + "…"
		}
		return fmt.Sprintf("the database file %s is corrupt (%s): with the server stopped, move %s and its -wal and -shm files aside (or restore them from a backup) and start again; a fresh store is created",
			e.Path, reason, e.Path)
	}
	return fmt.Sprintf("the database file %s was %s while the server ran, so nothing more can be stored where the next start reads it: restart the server",
		e.Path, e.Reason)
}

// Is makes a FaultError match ErrUnavailable, and ErrCorrupt when corrupt.
func (e *FaultError) Is(target error) bool {
	return target == ErrUnavailable || (e.Corrupt && target == ErrCorrupt)
}

// sqliteMagic starts every SQLite database file.
var sqliteMagic = []byte("SQLite format 3\x00")

// fileGuard watches that the file SQLite writes is still the one at path,
// and still a SQLite file. SQLite writes on through a removed or replaced
// file (the open descriptor keeps the old inode), so without this check a
// commit would succeed and be lost at the next start.
//
// The guard keeps a descriptor of its own open for the life of the store:
// closing a second descriptor of the database file would drop the POSIX
// locks SQLite holds on it, so the header is read through this one.
type fileGuard struct {
	path  string
	file  *os.File    // the database file as opened
	db    os.FileInfo // its identity (device and inode)
	wal   os.FileInfo // the -wal file's identity, nil if there was none
	fault atomic.Pointer[FaultError]
	qc    sync.Mutex // one quick_check at a time
}

func newFileGuard(path string, f *os.File) (*fileGuard, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat database file: %w", err)
	}
	return &fileGuard{path: path, file: f, db: fi}, nil
}

// watchWAL records the -wal file's identity. It is called once the writer
// holds its connection: SQLite keeps the WAL file while any connection is
// open, so from then on it must not change.
func (g *fileGuard) watchWAL() {
	if fi, err := os.Stat(g.path + "-wal"); err == nil {
		g.wal = fi
	}
}

// err returns the recorded fault, or nil.
func (g *fileGuard) err() error {
	if f := g.fault.Load(); f != nil {
		return f
	}
	return nil
}

// set records f unless a fault is already recorded, and returns the fault
// in force.
func (g *fileGuard) set(f *FaultError) error {
	g.fault.CompareAndSwap(nil, f)
	return g.fault.Load()
}

// verify checks the file's identity (device and inode of the path against
// the open file, and the -wal file's) and the header: two stats and one
// 16-byte read, cheap enough for every commit. A fault is sticky.
func (g *fileGuard) verify() error {
	if err := g.err(); err != nil {
		return err
	}
	if reason := sameFile(g.path, g.db); reason != "" {
		return g.set(&FaultError{Path: g.path, Reason: reason})
	}
	if g.wal != nil {
		if reason := sameFile(g.path+"-wal", g.wal); reason != "" {
			return g.set(&FaultError{Path: g.path, Reason: "left without its -wal file (" + reason + ")"})
		}
	}
	var head [16]byte
	n, err := g.file.ReadAt(head[:], 0)
	if n < len(head) || !bytes.Equal(head[:], sqliteMagic) {
		reason := "its header is not SQLite's"
		if n < len(head) {
			reason = fmt.Sprintf("it is truncated to %d bytes", n)
			if err != nil && n == 0 {
				reason += fmt.Sprintf(" (%v)", err)
			}
		}
		return g.set(&FaultError{Path: g.path, Reason: reason, Corrupt: true})
	}
	return nil
}

// sameFile returns "" when path still names the file want was taken from,
// else what happened to it.
func sameFile(path string, want os.FileInfo) string {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "removed"
	case err != nil:
		return fmt.Sprintf("unreadable (%v)", err)
	case !os.SameFile(fi, want):
		return "replaced"
	}
	return ""
}

// suspicious reports whether err is one after which the file may be
// damaged: an I/O error, or SQLite saying the file is corrupt or not a
// database.
func suspicious(err error) (suspect, corrupt bool) {
	e, ok := errors.AsType[*sqlite.Error](err)
	if !ok {
		return false, false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true, true
	case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL:
		return true, false
	}
	return false, false
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// quickCheck runs PRAGMA quick_check on q and returns nil when it answers
// "ok", else a description of the first problem.
func quickCheck(ctx context.Context, q querier) error {
	rows, err := q.QueryContext(ctx, `PRAGMA quick_check(3)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return &damageError{problems}
	}
	return nil
}

// damageError is what quick_check found.
type damageError struct{ problems []string }

func (e *damageError) Error() string { return fmt.Sprintf("quick_check: %q", e.problems) }

// damaged reports whether a quick_check result (or its failure) shows a
// corrupt file; a busy database or an ended context is not damage.
func damaged(qerr error) bool {
	if _, ok := errors.AsType[*damageError](qerr); ok {
		return true
	}
	_, corrupt := suspicious(qerr)
	return corrupt
}

// after looks at an error a statement returned: when it may mean a damaged
// or vanished file, the identity and a quick_check decide, and a fault is
// recorded. It returns the fault when there is one (which then replaces
// err for the caller), else err.
func (g *fileGuard) after(ctx context.Context, q querier, err error) error {
	if err == nil {
		return nil
	}
	if f := g.err(); f != nil {
		return fmt.Errorf("%w (%w)", f, err)
	}
	suspect, corrupt := suspicious(err)
	if !suspect {
		return err
	}
	if ferr := g.verify(); ferr != nil {
		return fmt.Errorf("%w (%w)", ferr, err)
	}
	if corrupt {
		return fmt.Errorf("%w (%w)", g.set(&FaultError{Path: g.path, Reason: err.Error(), Corrupt: true}), err)
	}
	g.qc.Lock()
	defer g.qc.Unlock()
	if qerr := quickCheck(context.WithoutCancel(ctx), q); damaged(qerr) {
		return fmt.Errorf("%w (%w)", g.set(&FaultError{Path: g.path, Reason: qerr.Error(), Corrupt: true}), err)
	}
	return err
}

// close releases the guard's descriptor (after the database is closed).
func (g *fileGuard) close() error { return g.file.Close() }

// Ping reports whether the store can keep what it is given: no fault
// recorded, the file is still the one opened and a SQLite file, and a query
// answers. /readyz and doctor call it.
func (s *SQLite) Ping(ctx context.Context) error {
	if err := s.guard.verify(); err != nil {
		return err
	}
	var one int
	if err := s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return s.guard.after(ctx, s.db, fmt.Errorf("ping: %w", err))
	}
	return nil
}

// Check runs PRAGMA quick_check over the whole file (doctor's deeper look;
// it reads every page) after Ping's checks, and records a fault if the
// file is corrupt.
func (s *SQLite) Check(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	s.guard.qc.Lock()
	defer s.guard.qc.Unlock()
	if err := quickCheck(ctx, s.db); damaged(err) {
		return s.guard.set(&FaultError{Path: s.guard.path, Reason: err.Error(), Corrupt: true})
	} else if err != nil {
		return fmt.Errorf("quick_check: %w", err)
	}
	return nil
}
