package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Settings of the events listener.
const (
	eventsChannel    = "cryptopay_events"
	listenBackoffMin = 50 * time.Millisecond
	listenBackoffMax = 5 * time.Second
	// sweepEvery: an idle listener sweeps (and so checks its connection)
	// this often; sweepAfter: a busy one sweeps after this many deliveries,
	// which bounds the delivered set.
	sweepEvery   = 5 * time.Second
	sweepAfter   = 4096
	listenerOpTO = 15 * time.Second // one query of the listener
	localWaitTO  = 2 * time.Second  // SaveEvent waiting for its own delivery
)

// eventHub is the WatchEvents side of a *Postgres: one listener connection
// (outside the pool, started by the first WatchEvents) that hands every
// committed event to the local watchers.
//
// SaveEvent notifies 'cryptopay_events' with the event id inside its
// transaction; PostgreSQL delivers notifications once committed and in
// commit order, and the listener fetches each event and publishes it to
// the watchers (each with its own goroutine and bounded queue, as on the
// other backends), in that order, whichever replica stored it.
//
// Nothing is missed across a lost connection thanks to a snapshot: cover is
// a pg_snapshot such that every event whose transaction it sees has been
// published (or predates the first WatchEvents); delivered holds the events
// published since, which cover does not see. After (re)connecting the
// listener LISTENs first and then sweeps: in one REPEATABLE READ
// transaction it takes a new snapshot and reads the events that the old
// cover does not see (xid >= its xmin, then pg_visible_in_snapshot in Go),
// publishes those not in delivered, in seq order, and makes the new
// snapshot the cover. Events committed after LISTEN and seen by the sweep
// too are skipped when their notification comes. A connected listener also
// sweeps now and then, which keeps delivered small and finds a dead
// connection.
type eventHub struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig
	fan     hub

	startMu  sync.Mutex // held while starting or closing
	closed   bool
	cancel   context.CancelFunc
	done     chan struct{}
	liveOnce sync.Once
	firstUp  chan struct{} // closed when the first session is live

	mu        sync.Mutex
	started   bool
	live      bool // the listener is connected and caught up
	cover     pgSnapshot
	delivered map[int64]uint64 // seq → xid
	waiters   map[int64][]eventWaiter

	pid      atomic.Uint32 // backend of the current listener connection (tests)
	sessions atomic.Int64  // connections made (tests)
	swept    atomic.Int64  // events published by sweeps, not notifications (tests)
}

type eventWaiter struct {
	xid uint64
	ch  chan struct{}
}

func newEventHub(pool *pgxpool.Pool, cfg *pgx.ConnConfig) *eventHub {
	return &eventHub{
		pool:      pool,
		connCfg:   cfg.Copy(),
		delivered: map[int64]uint64{},
		waiters:   map[int64][]eventWaiter{},
		firstUp:   make(chan struct{}),
	}
}

// watch registers fn until ctx ends, starting the listener first if needed.
func (h *eventHub) watch(ctx context.Context, fn func(Event)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	started, err := h.start(ctx)
	if err != nil {
		return err
	}
	if started {
		// Give the listener a moment to connect, so that SaveEvent calls
		// made right after this return already wait for their delivery.
		t := time.NewTimer(localWaitTO)
		select {
		case <-h.firstUp:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	return h.fan.watch(ctx, fn)
}

// start starts the listener unless it runs; started reports whether this
// call did.
func (h *eventHub) start(ctx context.Context) (started bool, err error) {
	h.startMu.Lock()
	defer h.startMu.Unlock()
	if h.closed {
		return false, ErrClosed
	}
	if h.cancel != nil {
		return false, nil
	}
	// Events committed from here on are published: the first sweep starts
	// from this snapshot.
	var text string
	if err := h.pool.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&text); err != nil {
		return false, fmt.Errorf("watch events: %w", err)
	}
	snap, err := parseSnapshot(text)
	if err != nil {
		return false, fmt.Errorf("watch events: %w", err)
	}
	h.mu.Lock()
	h.cover, h.started = snap, true
	h.mu.Unlock()
	lctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go h.run(lctx)
	return true, nil
}

// close stops the listener and the watchers and waits for them.
func (h *eventHub) close() {
	h.startMu.Lock()
	h.closed = true
	cancel, done := h.cancel, h.done
	h.startMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	h.fan.close()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started = false
	for seq, ws := range h.waiters {
		for _, w := range ws {
			close(w.ch)
		}
		delete(h.waiters, seq)
	}
}

// await returns once the listener, if it runs, has published the event
// (seq, xid) that this process stored: the local watchers have it queued,
// and a watcher registered afterwards will not be given it. It gives up
// after localWaitTO, since the event is committed either way.
func (h *eventHub) await(ctx context.Context, seq int64, xid uint64) {
	h.mu.Lock()
	if !h.started || !h.live || h.cover.visible(xid) {
		// Not listening right now: the event comes with the catch-up.
		h.mu.Unlock()
		return
	}
	if _, ok := h.delivered[seq]; ok {
		h.mu.Unlock()
		return
	}
	w := eventWaiter{xid: xid, ch: make(chan struct{})}
	h.waiters[seq] = append(h.waiters[seq], w)
	h.mu.Unlock()

	t := time.NewTimer(localWaitTO)
	defer t.Stop()
	select {
	case <-w.ch:
		return
	case <-ctx.Done():
	case <-t.C:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.waiters[seq]
	for i := range ws {
		if ws[i].ch == w.ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(h.waiters, seq)
	} else {
		h.waiters[seq] = ws
	}
}

func (h *eventHub) setLive(live bool) {
	h.mu.Lock()
	h.live = live
	h.mu.Unlock()
	if live {
		h.liveOnce.Do(func() { close(h.firstUp) })
	}
}

// run keeps a listener session going until ctx ends, reconnecting with
// exponential backoff.
func (h *eventHub) run(ctx context.Context) {
	defer close(h.done)
	backoff := listenBackoffMin
	for {
		began := time.Now()
		_ = h.session(ctx) // the next session starts afresh, whatever went wrong
		if ctx.Err() != nil {
			return
		}
		// A session that lasted is followed by a quick reconnect; one that
		// keeps failing, by longer and longer pauses.
		if time.Since(began) > listenBackoffMax {
			backoff = listenBackoffMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// session is one listener connection: LISTEN, sweep, then deliver
// notifications until the connection fails or ctx ends.
func (h *eventHub) session(ctx context.Context) error {
	// Filled by the connection while it reads, on this goroutine only.
	var pending []string
	cfg := h.connCfg.Copy()
	cfg.OnNotification = func(_ *pgconn.PgConn, n *pgconn.Notification) {
		if n.Channel == eventsChannel {
			pending = append(pending, n.Payload)
		}
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "cryptopay-mcp events listener"
	cctx, cancel := context.WithTimeout(ctx, listenerOpTO)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	h.pid.Store(conn.PgConn().PID())
	h.sessions.Add(1)
	cctx, cancel = context.WithTimeout(ctx, listenerOpTO)
	_, err = conn.Exec(cctx, "LISTEN "+eventsChannel)
	cancel()
	if err != nil {
		return err
	}
	if err := h.sweep(ctx, conn); err != nil {
		return err
	}
	lastSweep := time.Now()
	h.setLive(true)
	defer h.setLive(false)
	for {
		if len(pending) == 0 {
			if wait := sweepEvery - time.Since(lastSweep); wait > 0 {
				wctx, cancel := context.WithTimeout(ctx, wait)
				err := conn.PgConn().WaitForNotification(wctx)
				cancel()
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil && !pgconn.Timeout(err) {
					return err
				}
			}
		}
		if len(pending) > 0 {
			ids := pending
			pending = nil
			if err := h.fetch(ctx, conn, ids); err != nil {
				return err
			}
		}
		h.mu.Lock()
		busy := len(h.delivered) >= sweepAfter
		h.mu.Unlock()
		if busy || time.Since(lastSweep) >= sweepEvery {
			if err := h.sweep(ctx, conn); err != nil {
				return err
			}
			lastSweep = time.Now()
		}
	}
}

// hubRow is an event with where the listener keeps track of it.
type hubRow struct {
	e   Event
	seq int64
	xid uint64
}

func scanHubRow(row pgx.CollectableRow) (hubRow, error) {
	var r hubRow
	var xid string
	e, err := scanPgEvent(row, &r.seq, &xid)
	if err != nil {
		return hubRow{}, err
	}
	r.e = e
	r.xid, err = strconv.ParseUint(xid, 10, 64)
	return r, err
}

// fetch reads the notified events and delivers them in notification order.
// An id that is not found was pruned, or belongs to another schema.
func (h *eventHub) fetch(ctx context.Context, conn *pgx.Conn, ids []string) error {
	qctx, cancel := context.WithTimeout(ctx, listenerOpTO)
	defer cancel()
	rows, err := conn.Query(qctx, `SELECT `+pgEventColumns+`, seq, xid::text FROM webhook_events WHERE event_id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	got, err := pgx.CollectRows(rows, scanHubRow)
	if err != nil {
		return err
	}
	byID := make(map[string]hubRow, len(got))
	for _, r := range got {
		byID[r.e.EventID] = r
	}
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			h.deliver(r)
		}
	}
	return nil
}

// sweep delivers what the cover does not see and was not delivered, then
// advances the cover; see eventHub.
func (h *eventHub) sweep(ctx context.Context, conn *pgx.Conn) error {
	qctx, cancel := context.WithTimeout(ctx, listenerOpTO)
	defer cancel()
	tx, err := conn.BeginTx(qctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(qctx) }()
	var text string
	if err := tx.QueryRow(qctx, `SELECT pg_current_snapshot()::text`).Scan(&text); err != nil {
		return err
	}
	next, err := parseSnapshot(text)
	if err != nil {
		return err
	}
	h.mu.Lock()
	cover := h.cover
	h.mu.Unlock()
	rows, err := tx.Query(qctx, `SELECT seq, xid::text FROM webhook_events WHERE xid >= $1::text::xid8 ORDER BY seq`,
		strconv.FormatUint(cover.xmin, 10))
	if err != nil {
		return err
	}
	type pos struct {
		seq int64
		xid uint64
	}
	seen, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pos, error) {
		var p pos
		var xid string
		if err := row.Scan(&p.seq, &xid); err != nil {
			return p, err
		}
		p.xid, err = strconv.ParseUint(xid, 10, 64)
		return p, err
	})
	if err != nil {
		return err
	}
	var missing []int64
	h.mu.Lock()
	for _, p := range seen {
		if _, ok := h.delivered[p.seq]; !ok && !cover.visible(p.xid) {
			missing = append(missing, p.seq)
		}
	}
	h.mu.Unlock()
	if len(missing) > 0 {
		rows, err := tx.Query(qctx, `SELECT `+pgEventColumns+`, seq, xid::text FROM webhook_events WHERE seq = ANY($1) ORDER BY seq`, missing)
		if err != nil {
			return err
		}
		got, err := pgx.CollectRows(rows, scanHubRow)
		if err != nil {
			return err
		}
		for _, r := range got {
			if h.deliver(r) {
				h.swept.Add(1)
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cover = next
	for seq, xid := range h.delivered {
		if next.visible(xid) {
			delete(h.delivered, seq)
		}
	}
	for seq, ws := range h.waiters {
		kept := ws[:0]
		for _, w := range ws {
			if next.visible(w.xid) {
				close(w.ch)
			} else {
				kept = append(kept, w)
			}
		}
		if len(kept) == 0 {
			delete(h.waiters, seq)
		} else {
			h.waiters[seq] = kept
		}
	}
	return nil
}

// deliver publishes r unless it was published before, then wakes the
// SaveEvent calls waiting for it. It reports whether r was new.
func (h *eventHub) deliver(r hubRow) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.delivered[r.seq]; ok || h.cover.visible(r.xid) {
		return false
	}
	h.delivered[r.seq] = r.xid
	h.fan.publish([]Event{r.e})
	for _, w := range h.waiters[r.seq] {
		close(w.ch)
	}
	delete(h.waiters, r.seq)
	return true
}

// pgSnapshot is a parsed pg_snapshot: xmin:xmax:xip,...
type pgSnapshot struct {
	xmin, xmax uint64
	xip        map[uint64]bool
}

func parseSnapshot(s string) (pgSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return pgSnapshot{}, fmt.Errorf("bad snapshot %q", s)
	}
	var snap pgSnapshot
	var err error
	if snap.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return pgSnapshot{}, fmt.Errorf("bad snapshot %q: %w", s, err)
	}
	if snap.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return pgSnapshot{}, fmt.Errorf("bad snapshot %q: %w", s, err)
	}
	if parts[2] != "" {
		snap.xip = map[uint64]bool{}
		for _, f := range strings.Split(parts[2], ",") {
			x, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				return pgSnapshot{}, fmt.Errorf("bad snapshot %q: %w", s, err)
			}
			snap.xip[x] = true
		}
	}
	return snap, nil
}

// visible is pg_visible_in_snapshot for a committed transaction: it
// committed before the snapshot was taken.
func (s pgSnapshot) visible(xid uint64) bool {
	return xid < s.xmin || (xid < s.xmax && !s.xip[xid])
}
