package store

import (
	"context"
	"sync"
	"time"
)

// shopMemory is the Shop part of Memory; its zero value is ready.
type shopMemory struct {
	mu            sync.Mutex
	spends        map[string]Spend
	confirmations map[string]Confirmation
	used          map[string]bool
	audit         []AuditEntry
}

func counted(status string) bool { return status != SpendReleased }

// ReserveSpend implements Shop.
func (m *shopMemory) ReserveSpend(_ context.Context, s Spend, capCents int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spends == nil {
		m.spends = map[string]Spend{}
	}
	if old, ok := m.spends[s.InvoiceID]; ok && counted(old.Status) {
		return 0, ErrSpendExists
	}
	used := m.spentLocked(s.Day)
	if used+s.AmountCents > capCents {
		return used, ErrDailyLimit
	}
	s.Status = SpendReserved
	if s.CreatedAt.IsZero() {
		s.CreatedAt = time.Now()
	}
	s.UpdatedAt = s.CreatedAt
	m.spends[s.InvoiceID] = s
	return used, nil
}

func (m *shopMemory) spentLocked(day string) int64 {
	var n int64
	for _, s := range m.spends {
		if s.Day == day && counted(s.Status) {
			n += s.AmountCents
		}
	}
	return n
}

// FinishSpend implements Shop.
func (m *shopMemory) FinishSpend(_ context.Context, invoiceID, status string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.spends[invoiceID]
	if !ok {
		return ErrNotFound
	}
	s.Status, s.UpdatedAt = status, now
	m.spends[invoiceID] = s
	return nil
}

// SpentOn implements Shop.
func (m *shopMemory) SpentOn(_ context.Context, day string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spentLocked(day), nil
}

// GetSpend implements Shop.
func (m *shopMemory) GetSpend(_ context.Context, invoiceID string) (Spend, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.spends[invoiceID]
	if !ok {
		return Spend{}, ErrNotFound
	}
	return s, nil
}

// SaveConfirmation implements Shop.
func (m *shopMemory) SaveConfirmation(_ context.Context, c Confirmation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.confirmations == nil {
		m.confirmations, m.used = map[string]Confirmation{}, map[string]bool{}
	}
	m.confirmations[c.TokenHash] = c
	return nil
}

// ConsumeConfirmation implements Shop.
func (m *shopMemory) ConsumeConfirmation(_ context.Context, tokenHash, invoiceID string, amountCents int64, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.confirmations[tokenHash]
	if err := checkConfirmation(ok, m.used[tokenHash], c, invoiceID, amountCents, now); err != nil {
		return err
	}
	m.used[tokenHash] = true
	return nil
}

// checkConfirmation is the rule both backends apply.
func checkConfirmation(found, used bool, c Confirmation, invoiceID string, amountCents int64, now time.Time) error {
	switch {
	case !found:
		return &ConfirmationError{Reason: "unknown"}
	case used:
		return &ConfirmationError{Reason: "used"}
	case !now.Before(c.ExpiresAt):
		return &ConfirmationError{Reason: "expired"}
	case c.InvoiceID != invoiceID:
		return &ConfirmationError{Reason: "other_invoice"}
	case c.AmountCents != amountCents:
		return &ConfirmationError{Reason: "other_amount"}
	}
	return nil
}

// AppendAudit implements Shop.
func (m *shopMemory) AppendAudit(_ context.Context, e AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.Seq = int64(len(m.audit) + 1)
	m.audit = append(m.audit, e)
	return nil
}

// ListAudit implements Shop.
func (m *shopMemory) ListAudit(context.Context) ([]AuditEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]AuditEntry(nil), m.audit...), nil
}
