package store

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store that keeps everything in process memory.
type Memory struct {
	mu       sync.Mutex
	payments map[string]Payment
	idem     map[string]IdemRecord
	shopMemory
	eventsMemory
	tasksMemory
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{payments: map[string]Payment{}, idem: map[string]IdemRecord{}}
}

// Close stops the event watchers.
func (m *Memory) Close() error {
	m.hub.close()
	return nil
}

// Ping implements Store: memory is always there.
func (m *Memory) Ping(ctx context.Context) error { return ctx.Err() }

// SavePayment inserts or replaces a payment.
func (m *Memory) SavePayment(_ context.Context, p Payment) error {
	if p.StoredAt.IsZero() {
		p.StoredAt = time.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.payments[p.Identifier] = p
	return nil
}

// GetPayment returns a stored payment or ErrNotFound.
func (m *Memory) GetPayment(_ context.Context, id string) (Payment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.payments[id]
	if !ok {
		return Payment{}, ErrNotFound
	}
	return p, nil
}

// ClaimIdempotency creates a pending record or returns the existing one.
func (m *Memory) ClaimIdempotency(_ context.Context, key, caller, tool, argsHash string, now time.Time) (IdemRecord, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.idem[key]; ok {
		return r, false, nil
	}
	now = time.UnixMilli(now.UnixMilli())
	r := IdemRecord{Key: key, Caller: caller, Tool: tool, ArgsHash: argsHash, State: IdemPending, CreatedAt: now, UpdatedAt: now}
	m.idem[key] = r
	return r, true, nil
}

// FinishIdempotency records the outcome of a claimed create.
func (m *Memory) FinishIdempotency(_ context.Context, key, state, paymentID string, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.idem[key]
	if !ok {
		return ErrNotFound
	}
	r.State, r.PaymentID, r.UpdatedAt = state, paymentID, time.UnixMilli(now.UnixMilli())
	m.idem[key] = r
	return nil
}

// ReleaseIdempotency deletes a pending record.
func (m *Memory) ReleaseIdempotency(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.idem[key]; ok && r.State == IdemPending {
		delete(m.idem, key)
	}
	return nil
}

// PruneIdempotency deletes records created before cutoff.
func (m *Memory) PruneIdempotency(_ context.Context, cutoff time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, r := range m.idem {
		if r.CreatedAt.Before(cutoff) {
			delete(m.idem, k)
			n++
		}
	}
	return n, nil
}
