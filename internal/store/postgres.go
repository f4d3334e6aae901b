package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// Postgres is the shared store: several replicas of the server may use one
// database at the same time. Every check-then-write runs in one
// transaction that the database serialises (unique keys, row conditions or
// an advisory lock), so the guarantees of the Store hold across processes,
// not only across goroutines.
type Postgres struct {
	pool  *pgxpool.Pool
	saver *eventSaver
	hub   *eventHub
	// unbatched sends each SaveEvent as its own transaction (benchmarks
	// compare it with the batching writer).
	unbatched bool

	closeOnce sync.Once
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the database at url (a postgres:// URL or a
// key=value DSN; pgxpool settings such as pool_max_conns are honoured, and
// other parameters such as search_path are sent to the server) and applies
// pending migrations. Replicas that start together migrate once: the
// migrations run in one transaction under an advisory lock.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migratePostgres(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Postgres{pool: pool}
	s.hub = newEventHub(pool, cfg.ConnConfig)
	s.saver = newEventSaver(pool)
	return s, nil
}

// Ping implements Store: the database answers.
func (s *Postgres) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close stops the event listener and the event writer and closes the pool.
// It waits for them; it is safe to call more than once.
func (s *Postgres) Close() error {
	s.closeOnce.Do(func() {
		s.hub.close()
		s.saver.close()
		s.pool.Close()
	})
	return nil
}

// migrationLockKey namespaces the advisory lock taken while migrating; the
// schema's name is the second key, so separate schemas migrate
// independently.
const migrationLockKey = 0x43_50_4d_01 // "CPM" 1

func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := fs.Glob(postgresMigrations, "migrations/postgres/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: list migrations: %w", err)
	}
	sort.Strings(files)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		done := map[int32]bool{}
		for _, v := range applied {
			done[v] = true
		}
		for _, name := range files {
			base := path.Base(name)
			version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %s: bad version prefix: %w", base, err)
			}
			if done[int32(version)] {
				continue
			}
			body, err := postgresMigrations.ReadFile(name)
			if err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			// No arguments: the simple protocol, which runs several statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, version, base); err != nil {
				return fmt.Errorf("migration %s: %w", base, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// ms truncates t to the millisecond precision every backend keeps.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// SavePayment inserts or replaces a payment.
func (s *Postgres) SavePayment(ctx context.Context, p Payment) error {
	if p.StoredAt.IsZero() {
		p.StoredAt = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO payments (`+paymentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (identifier) DO UPDATE SET kind = EXCLUDED.kind, fiat_amount = EXCLUDED.fiat_amount,
			fiat = EXCLUDED.fiat, input_currency = EXCLUDED.input_currency, address = EXCLUDED.address,
			payment_uri = EXCLUDED.payment_uri, web_url = EXCLUDED.web_url, tag_memo = EXCLUDED.tag_memo,
			expected_input_amount = EXCLUDED.expected_input_amount, notes = EXCLUDED.notes,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, stored_at = EXCLUDED.stored_at`,
		p.Identifier, p.Kind, p.FiatAmount, p.Fiat, p.InputCurrency, p.Address, p.PaymentURI, p.WebURL,
		p.TagMemo, p.ExpectedInputAmount, p.Notes, p.CreatedAt, p.ExpiresAt, ms(p.StoredAt))
	if err != nil {
		return fmt.Errorf("save payment: %w", err)
	}
	return nil
}

// GetPayment returns a stored payment or ErrNotFound.
func (s *Postgres) GetPayment(ctx context.Context, id string) (Payment, error) {
	var p Payment
	err := s.pool.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE identifier = $1`, id).Scan(
		&p.Identifier, &p.Kind, &p.FiatAmount, &p.Fiat, &p.InputCurrency, &p.Address, &p.PaymentURI, &p.WebURL,
		&p.TagMemo, &p.ExpectedInputAmount, &p.Notes, &p.CreatedAt, &p.ExpiresAt, &p.StoredAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, ErrNotFound
	}
	if err != nil {
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}
	p.StoredAt = ms(p.StoredAt)
	return p, nil
}

// ClaimIdempotency creates a pending record or returns the existing one.
// INSERT ... ON CONFLICT DO NOTHING: the primary key lets exactly one of any
// number of concurrent claimers (on any replica) insert; the others wait for
// its commit and then read its record.
func (s *Postgres) ClaimIdempotency(ctx context.Context, key, caller, tool, argsHash string, now time.Time) (IdemRecord, bool, error) {
	now = ms(now)
	for {
		var r IdemRecord
		err := s.pool.QueryRow(ctx, `INSERT INTO idempotency_keys (key, caller, tool, args_hash, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (key) DO NOTHING
			RETURNING key, caller, tool, args_hash, state, payment_id, created_at, updated_at`,
			key, caller, tool, argsHash, IdemPending, now).Scan(&r.Key, &r.Caller, &r.Tool, &r.ArgsHash, &r.State, &r.PaymentID, &r.CreatedAt, &r.UpdatedAt)
		if err == nil {
			r.CreatedAt, r.UpdatedAt = ms(r.CreatedAt), ms(r.UpdatedAt)
			return r, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return IdemRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
		}
		// Another claimer's row. The conflict waited for its commit, so a
		// fresh statement sees it, unless it was released in between: then
		// the key is free again and we try once more.
		r, err = s.getIdem(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return IdemRecord{}, false, err
		}
		return r, false, nil
	}
}

func (s *Postgres) getIdem(ctx context.Context, key string) (IdemRecord, error) {
	var r IdemRecord
	err := s.pool.QueryRow(ctx, `SELECT key, caller, tool, args_hash, state, payment_id, created_at, updated_at
		FROM idempotency_keys WHERE key = $1`, key).Scan(&r.Key, &r.Caller, &r.Tool, &r.ArgsHash, &r.State, &r.PaymentID, &r.CreatedAt, &r.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return IdemRecord{}, ErrNotFound
	}
	if err != nil {
		return IdemRecord{}, fmt.Errorf("read idempotency key: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = ms(r.CreatedAt), ms(r.UpdatedAt)
	return r, nil
}

// FinishIdempotency records the outcome of a claimed create.
func (s *Postgres) FinishIdempotency(ctx context.Context, key, state, paymentID string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET state = $1, payment_id = $2, updated_at = $3 WHERE key = $4`,
		state, paymentID, ms(now), key)
	if err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// ReleaseIdempotency deletes a pending record.
func (s *Postgres) ReleaseIdempotency(ctx context.Context, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE key = $1 AND state = $2`, key, IdemPending); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotency deletes records created before cutoff.
func (s *Postgres) PruneIdempotency(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, ms(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}
