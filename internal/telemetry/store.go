package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// Store returns st with a CLIENT span per operation ("store SavePayment"),
// carrying db.system.name and db.operation.name only: no keys, ids or
// payloads. Close and WatchEvents (a long-lived watch, not an operation)
// pass through. system names the backend ("sqlite", "postgresql",
// "memory"). Disabled, it returns st itself.
func (t *Telemetry) Store(st store.Store, system string) store.Store {
	if t == nil || st == nil {
		return st
	}
	ts := &tracedStore{Store: st, t: t, system: semconv.DBSystemNameKey.String(system)}
	if d, ok := st.(paymentDoneStore); ok {
		// Keep the one-transaction create path of stores that have it.
		return &tracedDoneStore{tracedStore: ts, done: d}
	}
	return ts
}

// paymentDoneStore is the optional one-commit create path (store.SQLite).
type paymentDoneStore interface {
	SavePaymentDone(ctx context.Context, p store.Payment, key string, now time.Time) error
}

type tracedDoneStore struct {
	*tracedStore
	done paymentDoneStore
}

func (s *tracedDoneStore) SavePaymentDone(ctx context.Context, p store.Payment, key string, now time.Time) error {
	return exec(ctx, s.tracedStore, "SavePaymentDone", func(ctx context.Context) error {
		return s.done.SavePaymentDone(ctx, p, key, now)
	})
}

type tracedStore struct {
	store.Store
	t      *Telemetry
	system attribute.KeyValue
}

// traced runs one store operation in its own span. Not-found and replay
// answers are normal outcomes, not span errors.
func traced[T any](ctx context.Context, s *tracedStore, op string, f func(context.Context) (T, error)) (T, error) {
	ctx, span := s.t.start(ctx, "store "+op, trace.SpanKindClient, s.system, semconv.DBOperationName(op))
	defer span.End()
	v, err := f(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrReplay) {
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, errorType(err))
	}
	return v, err
}

// errorType names a store error without its message (which may hold ids).
func errorType(err error) string {
	switch {
	case errors.Is(err, store.ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	}
	return "_OTHER"
}

// exec adapts an operation that returns only an error.
func exec(ctx context.Context, s *tracedStore, op string, f func(context.Context) error) error {
	_, err := traced(ctx, s, op, func(ctx context.Context) (struct{}, error) { return struct{}{}, f(ctx) })
	return err
}

func (s *tracedStore) SavePayment(ctx context.Context, p store.Payment) error {
	return exec(ctx, s, "SavePayment", func(ctx context.Context) error { return s.Store.SavePayment(ctx, p) })
}

func (s *tracedStore) GetPayment(ctx context.Context, id string) (store.Payment, error) {
	return traced(ctx, s, "GetPayment", func(ctx context.Context) (store.Payment, error) { return s.Store.GetPayment(ctx, id) })
}

type claim struct {
	rec     store.IdemRecord
	claimed bool
}

func (s *tracedStore) ClaimIdempotency(ctx context.Context, key, caller, tool, argsHash string, now time.Time) (store.IdemRecord, bool, error) {
	c, err := traced(ctx, s, "ClaimIdempotency", func(ctx context.Context) (claim, error) {
		rec, ok, err := s.Store.ClaimIdempotency(ctx, key, caller, tool, argsHash, now)
		return claim{rec, ok}, err
	})
	return c.rec, c.claimed, err
}

func (s *tracedStore) FinishIdempotency(ctx context.Context, key, state, paymentID string, now time.Time) error {
	return exec(ctx, s, "FinishIdempotency", func(ctx context.Context) error {
		return s.Store.FinishIdempotency(ctx, key, state, paymentID, now)
	})
}

func (s *tracedStore) ReleaseIdempotency(ctx context.Context, key string) error {
	return exec(ctx, s, "ReleaseIdempotency", func(ctx context.Context) error { return s.Store.ReleaseIdempotency(ctx, key) })
}

func (s *tracedStore) PruneIdempotency(ctx context.Context, cutoff time.Time) (int64, error) {
	return traced(ctx, s, "PruneIdempotency", func(ctx context.Context) (int64, error) { return s.Store.PruneIdempotency(ctx, cutoff) })
}

func (s *tracedStore) ReserveSpend(ctx context.Context, sp store.Spend, capCents int64) (int64, error) {
	return traced(ctx, s, "ReserveSpend", func(ctx context.Context) (int64, error) { return s.Store.ReserveSpend(ctx, sp, capCents) })
}

func (s *tracedStore) FinishSpend(ctx context.Context, invoiceID, status string, now time.Time) error {
	return exec(ctx, s, "FinishSpend", func(ctx context.Context) error { return s.Store.FinishSpend(ctx, invoiceID, status, now) })
}

func (s *tracedStore) SpentOn(ctx context.Context, day string) (int64, error) {
	return traced(ctx, s, "SpentOn", func(ctx context.Context) (int64, error) { return s.Store.SpentOn(ctx, day) })
}

func (s *tracedStore) GetSpend(ctx context.Context, invoiceID string) (store.Spend, error) {
	return traced(ctx, s, "GetSpend", func(ctx context.Context) (store.Spend, error) { return s.Store.GetSpend(ctx, invoiceID) })
}

func (s *tracedStore) SaveConfirmation(ctx context.Context, c store.Confirmation) error {
	return exec(ctx, s, "SaveConfirmation", func(ctx context.Context) error { return s.Store.SaveConfirmation(ctx, c) })
}

func (s *tracedStore) ConsumeConfirmation(ctx context.Context, tokenHash, invoiceID string, amountCents int64, now time.Time) error {
	return exec(ctx, s, "ConsumeConfirmation", func(ctx context.Context) error {
		return s.Store.ConsumeConfirmation(ctx, tokenHash, invoiceID, amountCents, now)
	})
}

func (s *tracedStore) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	return exec(ctx, s, "AppendAudit", func(ctx context.Context) error { return s.Store.AppendAudit(ctx, e) })
}

func (s *tracedStore) ListAudit(ctx context.Context) ([]store.AuditEntry, error) {
	return traced(ctx, s, "ListAudit", s.Store.ListAudit)
}

func (s *tracedStore) SaveEvent(ctx context.Context, e store.Event, replayKey string, replayUntil time.Time) (store.SaveResult, error) {
	return traced(ctx, s, "SaveEvent", func(ctx context.Context) (store.SaveResult, error) {
		return s.Store.SaveEvent(ctx, e, replayKey, replayUntil)
	})
}

type eventPage struct {
	events []store.Event
	total  int
}

func (s *tracedStore) ListEvents(ctx context.Context, q store.EventQuery) ([]store.Event, int, error) {
	p, err := traced(ctx, s, "ListEvents", func(ctx context.Context) (eventPage, error) {
		ev, n, err := s.Store.ListEvents(ctx, q)
		return eventPage{ev, n}, err
	})
	return p.events, p.total, err
}

func (s *tracedStore) LatestEvent(ctx context.Context, identifier string) (store.Event, error) {
	return traced(ctx, s, "LatestEvent", func(ctx context.Context) (store.Event, error) { return s.Store.LatestEvent(ctx, identifier) })
}

func (s *tracedStore) PruneEvents(ctx context.Context, maxEvents int, olderThan, now time.Time) (int64, error) {
	return traced(ctx, s, "PruneEvents", func(ctx context.Context) (int64, error) {
		return s.Store.PruneEvents(ctx, maxEvents, olderThan, now)
	})
}

func (s *tracedStore) EventStats(ctx context.Context) (store.EventStats, error) {
	return traced(ctx, s, "EventStats", s.Store.EventStats)
}
