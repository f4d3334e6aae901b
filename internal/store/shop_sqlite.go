package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

var _ Shop = (*SQLite)(nil)

// ReserveSpend implements Shop. The check and the insert run in one
// IMMEDIATE transaction (the connection's _txlock), so concurrent
// reservations — from this process or another one on the same file — are
// serialised and the cap cannot be overshot.
func (s *SQLite) ReserveSpend(ctx context.Context, sp Spend, capCents int64) (int64, error) {
	if sp.CreatedAt.IsZero() {
		sp.CreatedAt = time.Now()
	}
	if err := s.guard.err(); err != nil {
		return 0, fmt.Errorf("reserve spend: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("reserve spend: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var status string
	err = tx.QueryRowContext(ctx, `SELECT status FROM shop_spend WHERE invoice_id = ?`, sp.InvoiceID).Scan(&status)
	switch {
	case err == nil && counted(status):
		return 0, ErrSpendExists
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("reserve spend: %w", err)
	}
	var used int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount_cents), 0) FROM shop_spend WHERE day = ? AND status != ?`,
		sp.Day, SpendReleased).Scan(&used); err != nil {
		return 0, fmt.Errorf("reserve spend: %w", err)
	}
	if used+sp.AmountCents > capCents {
		return used, ErrDailyLimit
	}
	ms := sp.CreatedAt.UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO shop_spend (invoice_id, day, amount_cents, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, sp.InvoiceID, sp.Day, sp.AmountCents, SpendReserved, ms, ms); err != nil {
		return 0, fmt.Errorf("reserve spend: %w", err)
	}
	if err := s.written(ctx, tx.Commit()); err != nil {
		return 0, fmt.Errorf("reserve spend: %w", err)
	}
	return used, nil
}

// FinishSpend implements Shop.
func (s *SQLite) FinishSpend(ctx context.Context, invoiceID, status string, now time.Time) error {
	if err := s.guard.err(); err != nil {
		return fmt.Errorf("finish spend: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE shop_spend SET status = ?, updated_at = ? WHERE invoice_id = ?`,
		status, now.UnixMilli(), invoiceID)
	if err := s.written(ctx, err); err != nil {
		return fmt.Errorf("finish spend: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SpentOn implements Shop.
func (s *SQLite) SpentOn(ctx context.Context, day string) (int64, error) {
	var used int64
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount_cents), 0) FROM shop_spend WHERE day = ? AND status != ?`,
		day, SpendReleased).Scan(&used); err != nil {
		return 0, fmt.Errorf("spent on: %w", err)
	}
	return used, nil
}

// GetSpend implements Shop.
func (s *SQLite) GetSpend(ctx context.Context, invoiceID string) (Spend, error) {
	var sp Spend
	var c, u int64
	err := s.db.QueryRowContext(ctx, `SELECT invoice_id, day, amount_cents, status, created_at, updated_at
		FROM shop_spend WHERE invoice_id = ?`, invoiceID).Scan(&sp.InvoiceID, &sp.Day, &sp.AmountCents, &sp.Status, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return Spend{}, ErrNotFound
	}
	if err != nil {
		return Spend{}, fmt.Errorf("get spend: %w", err)
	}
	sp.CreatedAt, sp.UpdatedAt = time.UnixMilli(c), time.UnixMilli(u)
	return sp, nil
}

// SaveConfirmation implements Shop.
func (s *SQLite) SaveConfirmation(ctx context.Context, c Confirmation) error {
	if err := s.guard.err(); err != nil {
		return fmt.Errorf("save confirmation: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO shop_confirmations (token_hash, invoice_id, amount_cents, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, c.TokenHash, c.InvoiceID, c.AmountCents, c.CreatedAt.UnixMilli(), c.ExpiresAt.UnixMilli())
	if err := s.written(ctx, err); err != nil {
		return fmt.Errorf("save confirmation: %w", err)
	}
	// Expired tokens are of no use to anyone; keep the table small.
	_, _ = s.db.ExecContext(ctx, `DELETE FROM shop_confirmations WHERE expires_at < ?`, c.CreatedAt.Add(-24*time.Hour).UnixMilli())
	return nil
}

// ConsumeConfirmation implements Shop, in one transaction.
func (s *SQLite) ConsumeConfirmation(ctx context.Context, tokenHash, invoiceID string, amountCents int64, now time.Time) error {
	if err := s.guard.err(); err != nil {
		return fmt.Errorf("consume confirmation: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("consume confirmation: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var c Confirmation
	var created, expires int64
	var usedAt sql.NullInt64
	err = tx.QueryRowContext(ctx, `SELECT invoice_id, amount_cents, created_at, expires_at, used_at FROM shop_confirmations
		WHERE token_hash = ?`, tokenHash).Scan(&c.InvoiceID, &c.AmountCents, &created, &expires, &usedAt)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("consume confirmation: %w", err)
	}
	c.ExpiresAt = time.UnixMilli(expires)
	if err := checkConfirmation(found, usedAt.Valid, c, invoiceID, amountCents, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE shop_confirmations SET used_at = ? WHERE token_hash = ?`, now.UnixMilli(), tokenHash); err != nil {
		return fmt.Errorf("consume confirmation: %w", err)
	}
	if err := s.written(ctx, tx.Commit()); err != nil {
		return fmt.Errorf("consume confirmation: %w", err)
	}
	return nil
}

// AppendAudit implements Shop.
func (s *SQLite) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	if err := s.guard.err(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO shop_audit (at, tool, invoice_id, order_id, amount_cents, outcome, code, detail, caller)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.At.UnixMilli(), e.Tool, e.InvoiceID, e.OrderID, e.AmountCents, e.Outcome, e.Code, e.Detail, e.Caller)
	if err := s.written(ctx, err); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// ListAudit implements Shop.
func (s *SQLite) ListAudit(ctx context.Context) ([]AuditEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, at, tool, invoice_id, order_id, amount_cents, outcome, code, detail, caller
		FROM shop_audit ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Tool, &e.InvoiceID, &e.OrderID, &e.AmountCents, &e.Outcome, &e.Code, &e.Detail, &e.Caller); err != nil {
			return nil, fmt.Errorf("list audit: %w", err)
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
