package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgEventColumns are read into an Event by scanPgEvent.
const pgEventColumns = `event_id, identifier, status, nonce, validated, payload, body_hash, received_at`

func scanPgEvent(row pgx.Row, extra ...any) (Event, error) {
	var e Event
	dest := append([]any{&e.EventID, &e.Identifier, &e.Status, &e.Nonce, &e.Validated, &e.Payload, &e.BodyHash, &e.ReceivedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		return Event{}, err
	}
	e.ReceivedAt = ms(e.ReceivedAt)
	return e, nil
}

// SaveEvent implements Events. The work is one call of the SQL function
// cryptopay_save_event (migration 0003): the replay key is claimed with
// INSERT ... ON CONFLICT DO UPDATE ... WHERE expired, so a key that any
// replica holds unexpired gives ErrReplay; the body hash and the event id
// are unique keys, so a body is stored once and an id taken by another body
// gets the next "#n" suffix. The new event's pg_notify is part of the same
// transaction.
//
// Concurrent calls of this process are committed together: a NOTIFY takes a
// database-wide lock from just before commit until after the commit is
// flushed, so PostgreSQL commits notifying transactions one at a time and
// its own group commit cannot batch them. One writer therefore sends every
// waiting call's statement in one pipelined transaction (one round trip,
// one WAL flush); if that transaction fails as a whole, each call is run
// again on its own so that only the bad one fails. SaveEvent returns after
// the commit. When this process's listener runs (WatchEvents was called),
// it then waits (briefly) until the listener has published the new event
// to the local watchers, as the single-process backends do before they
// return.
func (s *Postgres) SaveEvent(ctx context.Context, e Event, replayKey string, replayUntil time.Time) (SaveResult, error) {
	if err := ctx.Err(); err != nil {
		return SaveResult{}, err
	}
	e, err := prepareEvent(e)
	if err != nil {
		return SaveResult{}, err
	}
	req := &saveRequest{ctx: ctx, e: e, replayKey: replayKey, replayUntil: ms(replayUntil)}
	var rep saveReply
	if s.unbatched {
		rep = req.scan(s.pool.QueryRow(ctx, saveEventSQL, req.args()...))
	} else {
		rep, _ = s.saver.save(ctx, req)
	}
	if rep.err != nil {
		return SaveResult{}, rep.err
	}
	if !rep.res.Duplicate {
		s.hub.await(ctx, rep.seq, rep.xid)
	}
	return rep.res, nil
}

const saveEventSQL = `SELECT r_outcome, r_event_id, r_identifier, r_status, r_nonce, r_validated, r_payload, r_received_at, r_seq, r_xid
	FROM cryptopay_save_event($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// maxSaveBatch bounds one pipelined transaction. One batch is in flight at
// a time: the next one takes its seq values only after the last has
// committed, so within a process seq order (which ListEvents uses to order
// events received in the same millisecond) is commit order, which is the
// order watchers see.
const maxSaveBatch = 256

type saveRequest struct {
	ctx         context.Context
	e           Event
	replayKey   string
	replayUntil time.Time
	reply       chan saveReply // buffered: the writer never blocks on it
}

type saveReply struct {
	res SaveResult
	seq int64  // of a stored event
	xid uint64 // its transaction
	err error
}

func (r *saveRequest) args() []any {
	e := r.e
	return []any{e.EventID, e.Identifier, e.Status, e.Nonce, e.Validated, e.Payload, e.BodyHash, e.ReceivedAt, r.replayKey, r.replayUntil}
}

// scan reads one row of saveEventSQL.
func (r *saveRequest) scan(row pgx.Row) saveReply {
	var (
		outcome                  string
		id, ident, status, nonce *string
		validated                *bool
		payload                  []byte
		received                 *time.Time
		seq                      *int64
		xid                      *string
	)
	if err := row.Scan(&outcome, &id, &ident, &status, &nonce, &validated, &payload, &received, &seq, &xid); err != nil {
		return saveReply{err: fmt.Errorf("save event: %w", err)}
	}
	switch outcome {
	case "replay":
		return saveReply{err: ErrReplay}
	case "duplicate":
		if id == nil || ident == nil || status == nil || nonce == nil || validated == nil || received == nil {
			return saveReply{err: errors.New("save event: incomplete duplicate row")}
		}
		e := Event{EventID: *id, Identifier: *ident, Status: *status, Nonce: *nonce, Validated: *validated,
			Payload: payload, BodyHash: r.e.BodyHash, ReceivedAt: ms(*received)}
		return saveReply{res: SaveResult{Event: e, Duplicate: true}}
	case "stored":
		if id == nil || seq == nil || xid == nil {
			return saveReply{err: errors.New("save event: incomplete stored row")}
		}
		x, err := strconv.ParseUint(*xid, 10, 64)
		if err != nil {
			return saveReply{err: fmt.Errorf("save event: xid %q: %w", *xid, err)}
		}
		e := r.e
		e.EventID = *id
		return saveReply{res: SaveResult{Event: e}, seq: *seq, xid: x}
	}
	return saveReply{err: fmt.Errorf("save event: unexpected outcome %q", outcome)}
}

// eventSaver is the one writer of a *Postgres that commits concurrent
// SaveEvent calls together.
type eventSaver struct {
	pool   *pgxpool.Pool
	reqs   chan *saveRequest
	stop   chan struct{}   // closed by close: no new batches
	ctx    context.Context // of the database work; cancelled by close after saveCloseGrace
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// saveCloseGrace is how long close lets a batch in flight finish.
const saveCloseGrace = 5 * time.Second

func newEventSaver(pool *pgxpool.Pool) *eventSaver {
	ctx, cancel := context.WithCancel(context.Background())
	w := &eventSaver{pool: pool, reqs: make(chan *saveRequest), stop: make(chan struct{}), ctx: ctx, cancel: cancel}
	w.wg.Add(1)
	go w.run()
	return w
}

// close refuses new calls, lets the batch in flight commit (for up to
// saveCloseGrace) and waits for the writer.
func (w *eventSaver) close() {
	close(w.stop)
	t := time.AfterFunc(saveCloseGrace, w.cancel)
	w.wg.Wait()
	t.Stop()
	w.cancel()
}

// save hands r to the writer and waits for its commit.
func (w *eventSaver) save(ctx context.Context, r *saveRequest) (saveReply, error) {
	r.reply = make(chan saveReply, 1)
	select {
	case w.reqs <- r:
	case <-ctx.Done():
		return saveReply{err: ctx.Err()}, ctx.Err()
	case <-w.stop:
		return saveReply{err: ErrClosed}, ErrClosed
	}
	select {
	case rep := <-r.reply:
		return rep, rep.err
	case <-ctx.Done():
		// The writer may still commit it; like any lost commit
		// acknowledgement, the caller cannot tell.
		return saveReply{err: ctx.Err()}, ctx.Err()
	}
}

func (w *eventSaver) run() {
	defer w.wg.Done()
	for {
		var batch []*saveRequest
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-w.stop:
			return
		}
		// Everyone who queued up while the last batch was committing.
	more:
		for len(batch) < maxSaveBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		w.commit(batch)
	}
}

// commit runs batch in one implicit transaction and answers every request.
func (w *eventSaver) commit(batch []*saveRequest) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.reply <- saveReply{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if len(live) > 1 {
		// One order of replay keys for every batch of every replica, so
		// that two batches never wait for each other's keys. (Two that
		// wait for each other's bodies or ids, which needs the same two
		// deliveries in both in opposite orders, are a deadlock that
		// PostgreSQL breaks; the batch is then retried call by call.)
		slices.SortStableFunc(live, func(a, b *saveRequest) int {
			return cmpStrings(a.replayKey, b.replayKey, a.e.BodyHash, b.e.BodyHash)
		})
	}
	replies, err := w.pipeline(live)
	switch {
	case err == nil:
	case len(live) == 1:
		replies[0] = saveReply{err: err}
	default:
		// The whole transaction rolled back; run each on its own so only
		// the culprit fails.
		for i, r := range live {
			if err := r.ctx.Err(); err != nil {
				replies[i] = saveReply{err: err}
				continue
			}
			replies[i] = r.scan(w.pool.QueryRow(w.ctx, saveEventSQL, r.args()...))
		}
	}
	for i, r := range live {
		r.reply <- replies[i]
	}
}

// pipeline sends every request in one batch, which pgx runs as one implicit
// transaction: it commits at the batch's Sync, so the replies count only
// once Close has returned without error.
func (w *eventSaver) pipeline(reqs []*saveRequest) ([]saveReply, error) {
	b := &pgx.Batch{}
	for _, r := range reqs {
		b.Queue(saveEventSQL, r.args()...)
	}
	br := w.pool.SendBatch(w.ctx, b)
	replies := make([]saveReply, len(reqs))
	var first error
	for i, r := range reqs {
		replies[i] = r.scan(br.QueryRow())
		if replies[i].err != nil && !errors.Is(replies[i].err, ErrReplay) && first == nil {
			first = replies[i].err
		}
	}
	if err := br.Close(); err != nil && first == nil {
		first = fmt.Errorf("save event: %w", err)
	}
	return replies, first
}

func cmpStrings(a1, b1, a2, b2 string) int {
	if c := strings.Compare(a1, b1); c != 0 {
		return c
	}
	return strings.Compare(a2, b2)
}

// ListEvents implements Events.
func (s *Postgres) ListEvents(ctx context.Context, q EventQuery) ([]Event, int, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	var where []string
	var args []any
	if q.Identifier != "" {
		args = append(args, q.Identifier)
		where = append(where, "identifier = $"+strconv.Itoa(len(args)))
	}
	if q.ValidatedOnly {
		where = append(where, "validated")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_events`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	args = append(args, limit)
	rows, err := s.pool.Query(ctx, `SELECT `+pgEventColumns+` FROM webhook_events`+cond+
		` ORDER BY received_at DESC, seq DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) { return scanPgEvent(row) })
	if err != nil {
		return nil, 0, fmt.Errorf("list events: %w", err)
	}
	return out, total, nil
}

// LatestEvent implements Events.
func (s *Postgres) LatestEvent(ctx context.Context, identifier string) (Event, error) {
	e, err := scanPgEvent(s.pool.QueryRow(ctx, `SELECT `+pgEventColumns+` FROM webhook_events
		WHERE identifier = $1 AND validated ORDER BY received_at DESC, seq DESC LIMIT 1`, identifier))
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, ErrNotFound
	}
	if err != nil {
		return Event{}, fmt.Errorf("latest event: %w", err)
	}
	return e, nil
}

// PruneEvents implements Events, in one transaction.
func (s *Postgres) PruneEvents(ctx context.Context, maxEvents int, olderThan, now time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !olderThan.IsZero() {
			tag, err := tx.Exec(ctx, `DELETE FROM webhook_events WHERE received_at < $1`, ms(olderThan))
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		if maxEvents > 0 {
			tag, err := tx.Exec(ctx, `DELETE FROM webhook_events WHERE seq IN (
				SELECT seq FROM webhook_events ORDER BY received_at DESC, seq DESC OFFSET $1)`, maxEvents)
			if err != nil {
				return err
			}
			n += tag.RowsAffected()
		}
		_, err := tx.Exec(ctx, `DELETE FROM webhook_replay_keys WHERE until <= $1`, ms(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	return n, nil
}

// EventStats implements Events.
func (s *Postgres) EventStats(ctx context.Context) (EventStats, error) {
	var st EventStats
	err := s.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT identifier),
			count(*) FILTER (WHERE validated), count(*) FILTER (WHERE NOT validated),
			min(received_at), max(received_at),
			(SELECT count(*) FROM webhook_replay_keys)
		FROM webhook_events`).Scan(
		&st.TotalEvents, &st.UniqueIdentifiers, &st.ValidatedCount, &st.UnvalidatedCount, &st.Oldest, &st.Newest, &st.ReplayKeys)
	if err != nil {
		return EventStats{}, fmt.Errorf("event stats: %w", err)
	}
	for _, t := range []*time.Time{st.Oldest, st.Newest} {
		if t != nil {
			*t = ms(*t)
		}
	}
	return st, nil
}

// WatchEvents implements Events with LISTEN/NOTIFY; see eventHub.
func (s *Postgres) WatchEvents(ctx context.Context, fn func(Event)) error {
	return s.hub.watch(ctx, fn)
}
