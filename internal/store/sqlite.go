package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// SQLite is the default, embedded store. Webhook events are written by one
// group-commit goroutine (see SaveEvent); Close stops it.
type SQLite struct {
	db        *sql.DB
	guard     *fileGuard
	w         eventWriter
	stmts     sync.Map // query text -> *sql.Stmt, for the statements of the create path
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens (creating if needed) the database file at path, checks
// it (PRAGMA quick_check) and applies pending migrations. The directory is
// created with mode 0700. A corrupt file gives a *FaultError (ErrCorrupt)
// that names the file and the way out.
//
// Every commit is followed by a check that path still names the file that
// was opened (device and inode, and of its -wal file) and that its header
// is SQLite's: when the file was removed, replaced or overwritten the
// commit is reported as failed and every later write fails with
// ErrUnavailable, because what it wrote would not be read by the next start.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// Create the file ourselves so it is private from the start. The
	// descriptor stays open: the guard checks the file through it.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open database file: %w", err)
	}
	guard, err := newFileGuard(path, f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	s, err := openSQLite(ctx, path, guard)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string, guard *fileGuard) (*SQLite, error) {

	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	s := &SQLite{db: db, guard: guard}
	if guard.db.Size() > 0 {
		if err := s.checkAtStart(ctx); err != nil {
			_ = db.Close()
			return nil, err
		}
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		if _, corrupt := suspicious(err); corrupt {
			return nil, &FaultError{Path: path, Reason: err.Error(), Corrupt: true}
		}
		return nil, err
	}
	if err := s.startWriter(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	guard.watchWAL()
	return s, nil
}

// checkAtStart runs quick_check on an existing file, so that a corrupt
// store is one clear error at start rather than failures later.
func (s *SQLite) checkAtStart(ctx context.Context) error {
	err := quickCheck(ctx, s.db)
	switch {
	case err == nil:
		return nil
	case damaged(err):
		return &FaultError{Path: s.guard.path, Reason: err.Error(), Corrupt: true}
	default:
		return fmt.Errorf("check database file: %w", err)
	}
}

// DB exposes the handle for packages that add their own tables.
func (s *SQLite) DB() *sql.DB { return s.db }

// Close commits the events already queued, stops the event writer and the
// watchers, and closes the database. Later calls return the first result.
func (s *SQLite) Close() error {
	s.closeOnce.Do(func() {
		s.stopWriter()
		s.stmts.Range(func(_, st any) bool { _ = st.(*sql.Stmt).Close(); return true })
		s.closeErr = errors.Join(s.db.Close(), s.guard.close())
	})
	return s.closeErr
}

func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	files, err := fs.Glob(sqliteMigrations, "migrations/sqlite/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(files)
	for _, name := range files {
		base := filepath.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: bad version prefix: %w", base, err)
		}
		body, err := sqliteMigrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", base, err)
		}
		if err := s.applyMigration(ctx, version, base, string(body)); err != nil {
			return err
		}
	}
	return nil
}

func (s *SQLite) applyMigration(ctx context.Context, version int, name, body string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		version, name, time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	return nil
}

// stmt returns query prepared on the handle, preparing it on first use.
// Only fixed query texts go through here (the statements every create and
// QR call runs), so the set stays small; database/sql prepares a statement
// again on each connection that runs it.
func (s *SQLite) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// exec runs a prepared write statement (see stmt) and then checks the
// file (see written).
func (s *SQLite) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := s.guard.err(); err != nil {
		return nil, err
	}
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, s.guard.after(ctx, s.db, err)
	}
	res, err := st.ExecContext(ctx, args...)
	if err := s.written(ctx, err); err != nil {
		return nil, err
	}
	return res, nil
}

// written is called after a write committed (err == nil) or failed: a
// commit counts only if the file is still the one the next start reads;
// a failure is looked at for damage (see fileGuard.after).
func (s *SQLite) written(ctx context.Context, err error) error {
	if err != nil {
		return s.guard.after(ctx, s.db, err)
	}
	return s.guard.verify()
}

// queryRow runs a prepared query (see stmt).
func (s *SQLite) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// errRow stands for a *sql.Row whose statement could not be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

const paymentColumns = `identifier, kind, fiat_amount, fiat, input_currency, address, payment_uri, web_url,
	tag_memo, expected_input_amount, notes, created_at, expires_at, stored_at`

// Statements shared by SavePayment, FinishIdempotency and SavePaymentDone.
const (
	sqliteSavePayment = `INSERT OR REPLACE INTO payments (` + paymentColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqliteFinishIdem = `UPDATE idempotency_keys SET state = ?, payment_id = ?, updated_at = ? WHERE key = ?`
)

// SavePayment inserts or replaces a payment.
func (s *SQLite) SavePayment(ctx context.Context, p Payment) error {
	if p.StoredAt.IsZero() {
		p.StoredAt = time.Now()
	}
	_, err := s.exec(ctx, sqliteSavePayment,
		p.Identifier, p.Kind, p.FiatAmount, p.Fiat, p.InputCurrency, p.Address, p.PaymentURI, p.WebURL,
		p.TagMemo, p.ExpectedInputAmount, p.Notes, p.CreatedAt, p.ExpiresAt, p.StoredAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("save payment: %w", err)
	}
	return nil
}

// GetPayment returns a stored payment or ErrNotFound.
func (s *SQLite) GetPayment(ctx context.Context, id string) (Payment, error) {
	var p Payment
	var stored int64
	err := s.queryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE identifier = ?`, id).Scan(
		&p.Identifier, &p.Kind, &p.FiatAmount, &p.Fiat, &p.InputCurrency, &p.Address, &p.PaymentURI, &p.WebURL,
		&p.TagMemo, &p.ExpectedInputAmount, &p.Notes, &p.CreatedAt, &p.ExpiresAt, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, ErrNotFound
	}
	if err != nil {
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}
	p.StoredAt = time.UnixMilli(stored)
	return p, nil
}

// ClaimIdempotency creates a pending record or returns the existing one.
func (s *SQLite) ClaimIdempotency(ctx context.Context, key, caller, tool, argsHash string, now time.Time) (IdemRecord, bool, error) {
	res, err := s.exec(ctx, `INSERT INTO idempotency_keys (key, caller, tool, args_hash, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING`,
		key, caller, tool, argsHash, IdemPending, now.UnixMilli(), now.UnixMilli())
	if err != nil {
		return IdemRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return IdemRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	rec, err := s.getIdem(ctx, key)
	if err != nil {
		return IdemRecord{}, false, err
	}
	return rec, n == 1, nil
}

func (s *SQLite) getIdem(ctx context.Context, key string) (IdemRecord, error) {
	var r IdemRecord
	var created, updated int64
	err := s.queryRow(ctx, `SELECT key, caller, tool, args_hash, state, payment_id, created_at, updated_at
		FROM idempotency_keys WHERE key = ?`, key).Scan(&r.Key, &r.Caller, &r.Tool, &r.ArgsHash, &r.State, &r.PaymentID, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return IdemRecord{}, ErrNotFound
	}
	if err != nil {
		return IdemRecord{}, fmt.Errorf("read idempotency key: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = time.UnixMilli(created), time.UnixMilli(updated)
	return r, nil
}

// FinishIdempotency records the outcome of a claimed create.
func (s *SQLite) FinishIdempotency(ctx context.Context, key, state, paymentID string, now time.Time) error {
	res, err := s.exec(ctx, sqliteFinishIdem,
		state, paymentID, now.UnixMilli(), key)
	if err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SavePaymentDone saves p and moves the idempotency record key to done with
// p's identifier in one transaction: one durable commit (one WAL fsync)
// where SavePayment and FinishIdempotency take two, and no moment at which
// the payment is stored but its key still pending. It returns ErrNotFound,
// and writes nothing, if key has no record.
func (s *SQLite) SavePaymentDone(ctx context.Context, p Payment, key string, now time.Time) (err error) {
	if p.StoredAt.IsZero() {
		p.StoredAt = time.Now()
	}
	if err := s.guard.err(); err != nil {
		return fmt.Errorf("save payment: %w", err)
	}
	save, err := s.stmt(ctx, sqliteSavePayment)
	if err != nil {
		return fmt.Errorf("save payment: %w", err)
	}
	finish, err := s.stmt(ctx, sqliteFinishIdem)
	if err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save payment: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.StmtContext(ctx, save).ExecContext(ctx, p.Identifier, p.Kind, p.FiatAmount, p.Fiat, p.InputCurrency, p.Address, p.PaymentURI, p.WebURL,
		p.TagMemo, p.ExpectedInputAmount, p.Notes, p.CreatedAt, p.ExpiresAt, p.StoredAt.UnixMilli()); err != nil {
		return fmt.Errorf("save payment: %w", err)
	}
	res, err := tx.StmtContext(ctx, finish).ExecContext(ctx, IdemDone, p.Identifier, now.UnixMilli(), key)
	if err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return ErrNotFound
	}
	if err := s.written(ctx, tx.Commit()); err != nil {
		return fmt.Errorf("save payment: commit: %w", err)
	}
	return nil
}

// ReleaseIdempotency deletes a pending record.
func (s *SQLite) ReleaseIdempotency(ctx context.Context, key string) error {
	if err := s.guard.err(); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key = ? AND state = ?`, key, IdemPending)
	if err := s.written(ctx, err); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotency deletes records created before cutoff.
func (s *SQLite) PruneIdempotency(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, cutoff.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", err)
	}
	return res.RowsAffected()
}
