package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Group commit. SaveEvent hands its event to one writer goroutine and
// waits. The writer takes every request waiting at that moment (up to
// maxBatch), applies them in arrival order in ONE transaction, commits
// (one fsync of the WAL under synchronous=FULL), and only then answers each
// caller and feeds the watchers. A failed commit fails every caller of the
// batch, so nothing is acknowledged that is not on disk.
const (
	maxBatch   = 256
	queueDepth = 4 * maxBatch
)

type saveReq struct {
	ctx   context.Context
	e     Event
	key   string
	until time.Time
	res   chan saveResp // capacity 1: the writer never blocks on it
}

type saveResp struct {
	r   SaveResult
	err error
}

// eventWriter is the group-commit state of SQLite.
type eventWriter struct {
	conn *sql.Conn // the writer's own connection: a warm page cache, no pool hops
	reqs chan *saveReq
	quit chan struct{} // closed by Close
	done chan struct{} // closed when the writer has exited
	hub  hub
}

// startWriter starts the group-commit goroutine on a connection of its own.
// It keeps SQLite's automatic checkpoint: the checkpoint runs right after a
// commit, when no other writer can append, so the WAL is reset and reused
// instead of growing under sustained load.
func (s *SQLite) startWriter(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("event writer: %w", err)
	}
	s.w = eventWriter{
		conn: conn,
		reqs: make(chan *saveReq, queueDepth),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.w.done)
		defer conn.Close()
		s.writeLoop()
	}()
	return nil
}

// stopWriter lets the writer commit what is already queued, then stops it
// and the watchers.
func (s *SQLite) stopWriter() {
	close(s.w.quit)
	<-s.w.done
	s.w.hub.close()
}

func (s *SQLite) writeLoop() {
	batch := make([]*saveReq, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-s.w.reqs:
			batch = append(batch, r)
		case <-s.w.quit:
			// Commit whatever is still queued; later callers see done.
			for {
				batch = batch[:0]
				s.gather(&batch)
				if len(batch) == 0 {
					return
				}
				s.commitBatch(batch)
			}
		}
		s.gather(&batch)
		s.commitBatch(batch)
	}
}

// gather appends the requests waiting right now, up to maxBatch.
func (s *SQLite) gather(batch *[]*saveReq) {
	for len(*batch) < maxBatch {
		select {
		case r := <-s.w.reqs:
			*batch = append(*batch, r)
		default:
			return
		}
	}
}

func (s *SQLite) commitBatch(batch []*saveReq) {
	live := make([]*saveReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.res <- saveResp{err: err} // the caller has gone; do not store
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// A batch counts only once it is in the file the next start reads: a
	// fault found before or after the commit fails the whole batch (the
	// receiver answers 503 and the sender retries).
	err := s.guard.err()
	var out []saveResp
	if err == nil {
		out, err = s.applyBatch(live)
		if err != nil {
			err = s.guard.after(context.Background(), s.w.conn, err)
		} else {
			err = s.guard.verify()
		}
	}
	if err != nil {
		err = fmt.Errorf("save event: %w", err)
		for _, r := range live {
			r.res <- saveResp{err: err}
		}
		return
	}
	// Watchers get the batch before the callers are answered, so an event
	// is always queued for them by the time its SaveEvent returns.
	stored := make([]Event, 0, len(live))
	for i := range live {
		if out[i].err == nil && !out[i].r.Duplicate {
			stored = append(stored, out[i].r.Event)
		}
	}
	s.w.hub.publish(stored)
	for i, r := range live {
		r.res <- out[i]
	}
}

const (
	eventColumns = `event_id, identifier, status, nonce, validated, payload, body_hash, received_at`
	// The key is taken when it is new or has expired (expires_at not after
	// the delivery's receive time); otherwise nothing changes.
	replaySQL = `INSERT INTO webhook_replay_keys (key, expires_at) VALUES (?1, ?2)
		ON CONFLICT(key) DO UPDATE SET expires_at = excluded.expires_at
		WHERE webhook_replay_keys.expires_at <= ?3`
	insertEventSQL = `INSERT INTO webhook_events (` + eventColumns + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
)

// applyBatch runs one transaction for the whole batch. It returns one
// answer per request, or an error when the transaction failed (nothing of
// the batch is then committed).
func (s *SQLite) applyBatch(batch []*saveReq) ([]saveResp, error) {
	ctx := context.Background() // one caller's cancellation must not abort the others
	tx, err := s.w.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	replay, err := tx.PrepareContext(ctx, replaySQL)
	if err != nil {
		return nil, err
	}
	defer replay.Close()
	insert, err := tx.PrepareContext(ctx, insertEventSQL)
	if err != nil {
		return nil, err
	}
	defer insert.Close()

	out := make([]saveResp, len(batch))
	for i, r := range batch {
		e := r.e
		if r.key != "" {
			res, err := replay.ExecContext(ctx, r.key, r.until.UnixMilli(), e.ReceivedAt.UnixMilli())
			if err != nil {
				return nil, err
			}
			if n, err := res.RowsAffected(); err != nil {
				return nil, err
			} else if n == 0 {
				out[i].err = ErrReplay
				continue
			}
		}
		hash, err := hex.DecodeString(e.BodyHash)
		if err != nil {
			return nil, err // prepareEvent computed it; cannot happen
		}
		id := e.EventID
		for n := 2; ; n++ {
			res, err := insert.ExecContext(ctx, id, e.Identifier, e.Status, e.Nonce, e.Validated,
				nonNil(e.Payload), hash, e.ReceivedAt.UnixMilli())
			if err != nil {
				return nil, err
			}
			if k, err := res.RowsAffected(); err != nil {
				return nil, err
			} else if k == 1 {
				e.EventID = id
				out[i].r = SaveResult{Event: e}
				break
			}
			// A uniqueness conflict: the same body, or the id is taken.
			prev, err := scanEvent(tx.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM webhook_events WHERE body_hash = ?`, hash))
			if err == nil {
				out[i].r = SaveResult{Event: prev, Duplicate: true}
				break
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return nil, err
			}
			if n > maxIDSuffix {
				out[i].err = errIDExhausted(e.EventID)
				if r.key != "" { // give the key back: nothing was stored
					if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_replay_keys WHERE key = ?`, r.key); err != nil {
						return nil, err
					}
				}
				break
			}
			id = suffixedID(e.EventID, n)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

type rowScanner interface{ Scan(dest ...any) error }

func scanEvent(row rowScanner) (Event, error) {
	var e Event
	var hash []byte
	var received int64
	if err := row.Scan(&e.EventID, &e.Identifier, &e.Status, &e.Nonce, &e.Validated, &e.Payload, &hash, &received); err != nil {
		return Event{}, err
	}
	if e.Payload == nil {
		e.Payload = []byte{}
	}
	e.BodyHash = hex.EncodeToString(hash)
	e.ReceivedAt = time.UnixMilli(received)
	return e, nil
}

// SaveEvent implements Events through the group-commit writer.
func (s *SQLite) SaveEvent(ctx context.Context, e Event, replayKey string, replayUntil time.Time) (SaveResult, error) {
	if err := ctx.Err(); err != nil {
		return SaveResult{}, err
	}
	e, err := prepareEvent(e)
	if err != nil {
		return SaveResult{}, err
	}
	req := &saveReq{ctx: ctx, e: e, key: replayKey, until: replayUntil, res: make(chan saveResp, 1)}
	if err := s.guard.err(); err != nil {
		return SaveResult{}, fmt.Errorf("save event: %w", err)
	}
	select {
	case <-s.w.quit:
		return SaveResult{}, ErrClosed
	case <-ctx.Done():
		return SaveResult{}, ctx.Err()
	case s.w.reqs <- req:
	}
	select {
	case r := <-req.res:
		return r.r, r.err
	case <-ctx.Done():
		return SaveResult{}, ctx.Err()
	case <-s.w.done:
		select {
		case r := <-req.res:
			return r.r, r.err
		default:
			return SaveResult{}, ErrClosed
		}
	}
}

// eventWhere selects the events of q. Events of one identifier are found
// through the event_id index: their ids all start with identifier + ":",
// i.e. lie in [identifier+":", identifier+";") under binary collation.
func eventWhere(q EventQuery) (string, []any) {
	var conds []string
	var args []any
	if q.Identifier != "" {
		conds = append(conds, "event_id >= ? AND event_id < ? AND identifier = ?")
		args = append(args, q.Identifier+":", q.Identifier+";", q.Identifier)
	}
	if q.ValidatedOnly {
		conds = append(conds, "validated = 1")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// eventsFrom names the table, pinned to the event_id index when selecting
// one identifier so that the planner does not walk received_at instead.
func eventsFrom(q EventQuery) string {
	if q.Identifier != "" {
		return ` FROM webhook_events INDEXED BY webhook_events_event_id`
	}
	return ` FROM webhook_events`
}

// ListEvents implements Events.
func (s *SQLite) ListEvents(ctx context.Context, q EventQuery) ([]Event, int, error) {
	where, args := eventWhere(q)
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*)`+eventsFrom(q)+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", s.guard.after(ctx, s.db, err))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventColumns+eventsFrom(q)+where+
		` ORDER BY received_at DESC, id DESC LIMIT ?`, append(args, eventLimit(q.Limit))...)
	if err != nil {
		return nil, 0, fmt.Errorf("list events: %w", s.guard.after(ctx, s.db, err))
	}
	defer rows.Close()
	events := []Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list events: %w", s.guard.after(ctx, s.db, err))
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", s.guard.after(ctx, s.db, err))
	}
	return events, max(total, len(events)), nil
}

// LatestEvent implements Events.
func (s *SQLite) LatestEvent(ctx context.Context, identifier string) (Event, error) {
	q := EventQuery{Identifier: identifier, ValidatedOnly: true}
	where, args := eventWhere(q)
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT `+eventColumns+eventsFrom(q)+where+
		` ORDER BY received_at DESC, id DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, ErrNotFound
	}
	if err != nil {
		return Event{}, fmt.Errorf("latest event: %w", s.guard.after(ctx, s.db, err))
	}
	return e, nil
}

// PruneEvents implements Events in one transaction.
func (s *SQLite) PruneEvents(ctx context.Context, maxEvents int, olderThan, now time.Time) (int64, error) {
	if err := s.guard.err(); err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var removed int64
	if !olderThan.IsZero() {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE received_at < ?`, olderThan.UnixMilli())
		if err != nil {
			return 0, fmt.Errorf("prune events: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	if maxEvents > 0 {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE id IN (
			SELECT id FROM webhook_events ORDER BY received_at DESC, id DESC LIMIT -1 OFFSET ?)`, maxEvents)
		if err != nil {
			return 0, fmt.Errorf("prune events: %w", err)
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_replay_keys WHERE expires_at <= ?`, now.UnixMilli()); err != nil {
		return 0, fmt.Errorf("prune replay keys: %w", err)
	}
	if err := s.written(ctx, tx.Commit()); err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	return removed, nil
}

// EventStats implements Events.
func (s *SQLite) EventStats(ctx context.Context) (EventStats, error) {
	var st EventStats
	var validated, oldest, newest sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT identifier), SUM(validated),
		MIN(received_at), MAX(received_at) FROM webhook_events`).Scan(
		&st.TotalEvents, &st.UniqueIdentifiers, &validated, &oldest, &newest); err != nil {
		return EventStats{}, fmt.Errorf("event stats: %w", s.guard.after(ctx, s.db, err))
	}
	st.ValidatedCount = validated.Int64
	st.UnvalidatedCount = st.TotalEvents - st.ValidatedCount
	if oldest.Valid {
		t := time.UnixMilli(oldest.Int64)
		st.Oldest = &t
	}
	if newest.Valid {
		t := time.UnixMilli(newest.Int64)
		st.Newest = &t
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_replay_keys`).Scan(&st.ReplayKeys); err != nil {
		return EventStats{}, fmt.Errorf("event stats: %w", err)
	}
	return st, nil
}

// WatchEvents implements Events. Only events committed by this process are
// reported.
func (s *SQLite) WatchEvents(ctx context.Context, fn func(Event)) error {
	return s.w.hub.watch(ctx, fn)
}
