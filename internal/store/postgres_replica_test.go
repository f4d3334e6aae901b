package store

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Two *Postgres on one schema stand for two replicas of the server: each
// has its own pool, event writer and listener connection.
func twoReplicas(t *testing.T) (a, b *Postgres) {
	t.Helper()
	r := replicas(t, 2)
	return r[0], r[1]
}

func replicas(t *testing.T, n int) []*Postgres {
	t.Helper()
	url := postgresTestURL(t)
	out := make([]*Postgres, n)
	for i := range out {
		out[i] = openTestPostgres(t, url)
	}
	return out
}

// TestPostgresMigrateConcurrently: replicas starting together migrate once.
func TestPostgresMigrateConcurrently(t *testing.T) {
	checkLeaks(t)
	url := postgresTestURL(t)
	var wg sync.WaitGroup
	stores := make([]*Postgres, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var n, versions int
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &versions); err != nil {
		t.Fatal(err)
	}
	files, _ := postgresMigrations.ReadDir("migrations/postgres")
	if n != len(files) || versions != n {
		t.Fatalf("schema_migrations has %d rows (%d versions), want %d", n, versions, len(files))
	}
	again := openTestPostgres(t, url) // a no-op the second time
	if err := again.SavePayment(t.Context(), Payment{Identifier: "p", Kind: "link"}); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresAuditRefusesChanges(t *testing.T) {
	checkLeaks(t)
	ctx := t.Context()
	s := openTestPostgres(t, postgresTestURL(t))
	if err := s.AppendAudit(ctx, AuditEntry{Tool: "pay_invoice", Outcome: "paid"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE shop_audit SET outcome = 'x'`, `DELETE FROM shop_audit`, `TRUNCATE shop_audit`} {
		if _, err := s.pool.Exec(ctx, q); err == nil {
			t.Errorf("%s was allowed", q)
		}
	}
	if a, _ := s.ListAudit(ctx); len(a) != 1 || a[0].Outcome != "paid" {
		t.Fatalf("audit changed: %+v", a)
	}
}

// TestPostgresReplicasClaimOnce: 50 identical claims spread over two
// replicas; exactly one wins and everyone sees the winner's record.
func TestPostgresReplicasClaimOnce(t *testing.T) {
	checkLeaks(t)
	a, b := twoReplicas(t)
	var wins atomic.Int64
	hashes := make([]string, 50)
	var wg sync.WaitGroup
	for i := range 50 {
		s := []*Postgres{a, b}[i%2]
		wg.Go(func() {
			r, claimed, err := s.ClaimIdempotency(t.Context(), "race", "stdio", "create_payment_link", fmt.Sprint("h", i), time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			if claimed {
				wins.Add(1)
			}
			hashes[i] = r.ArgsHash
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claimers won, want 1", wins.Load())
	}
	for _, h := range hashes {
		if h != hashes[0] {
			t.Fatalf("callers saw different records: %q and %q", hashes[0], h)
		}
	}
}

// TestPostgresReplicasDailyCap: reservations from two replicas at once never
// take a day past its cap.
func TestPostgresReplicasDailyCap(t *testing.T) {
	checkLeaks(t)
	a, b := twoReplicas(t)
	const capCents, each, n = 10000, 700, 60
	days := []string{"2026-03-01", "2026-03-02"}
	var ok [2]atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		s := []*Postgres{a, b}[i%2]
		day := i % len(days)
		wg.Go(func() {
			_, err := s.ReserveSpend(t.Context(), Spend{InvoiceID: fmt.Sprint("inv-", i), Day: days[day], AmountCents: each}, capCents)
			switch {
			case err == nil:
				ok[day].Add(1)
			case errors.Is(err, ErrDailyLimit):
			default:
				t.Error(err)
			}
		})
	}
	// The same invoice from both replicas at once: one reservation.
	var same atomic.Int64
	for i := range 10 {
		s := []*Postgres{a, b}[i%2]
		wg.Go(func() {
			_, err := s.ReserveSpend(t.Context(), Spend{InvoiceID: "one", Day: days[i%2], AmountCents: 1}, 1<<40)
			switch {
			case err == nil:
				same.Add(1)
			case errors.Is(err, ErrSpendExists), errors.Is(err, ErrDailyLimit):
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for d, day := range days {
		used, err := a.SpentOn(t.Context(), day)
		if err != nil {
			t.Fatal(err)
		}
		if used > capCents {
			t.Fatalf("%s: cap overshot: %d", day, used)
		}
		if got := ok[d].Load(); got != capCents/each {
			t.Fatalf("%s: %d reservations succeeded, want %d", day, got, capCents/each)
		}
	}
	if same.Load() != 1 {
		t.Fatalf("one invoice reserved %d times", same.Load())
	}
}

// TestPostgresReplicasConfirmOnce: a token is consumed once across replicas.
func TestPostgresReplicasConfirmOnce(t *testing.T) {
	checkLeaks(t)
	a, b := twoReplicas(t)
	now := time.Now()
	if err := a.SaveConfirmation(t.Context(), Confirmation{TokenHash: "h", InvoiceID: "i", AmountCents: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		s := []*Postgres{a, b}[i%2]
		wg.Go(func() {
			err := s.ConsumeConfirmation(t.Context(), "h", "i", 1, now)
			var ce *ConfirmationError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ce) && ce.Reason == "used":
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("token consumed %d times", ok.Load())
	}
}

// TestPostgresReplicasReplay: a replay key recorded by one replica is
// refused by both, also when both race for it.
func TestPostgresReplicasReplay(t *testing.T) {
	checkLeaks(t)
	a, b := twoReplicas(t)
	ctx := t.Context()
	now := time.Now()
	if _, err := a.SaveEvent(ctx, testEvent("pay", "n1", "body-1", true, now), "key-1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Postgres{"a": a, "b": b} {
		if _, err := s.SaveEvent(ctx, testEvent("pay", "n1", "body-2", true, now), "key-1", now.Add(time.Hour)); !errors.Is(err, ErrReplay) {
			t.Fatalf("replica %s accepted a replay: %v", name, err)
		}
	}
	var stored, replays atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		s := []*Postgres{a, b}[i%2]
		wg.Go(func() {
			_, err := s.SaveEvent(ctx, testEvent("pay", "n2", fmt.Sprint("race-", i), true, now), "key-2", now.Add(time.Hour))
			switch {
			case err == nil:
				stored.Add(1)
			case errors.Is(err, ErrReplay):
				replays.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if stored.Load() != 1 || replays.Load() != 39 {
		t.Fatalf("stored %d, replays %d; want 1 and 39", stored.Load(), replays.Load())
	}
	if _, total, _ := b.ListEvents(ctx, EventQuery{}); total != 2 {
		t.Fatalf("%d events, want 2", total)
	}
}

// TestPostgresReplicasWatch: events stored by one replica reach the watchers
// of the others promptly, in commit order, each once.
func TestPostgresReplicasWatch(t *testing.T) {
	checkLeaks(t)
	r := replicas(t, 3)
	a, b, w := r[0], r[1], r[2]
	ctx := t.Context()
	ra, rb := newRecorder(), newRecorder()
	if err := a.WatchEvents(ctx, ra.fn); err != nil {
		t.Fatal(err)
	}
	if err := b.WatchEvents(ctx, rb.fn); err != nil {
		t.Fatal(err)
	}
	// A third replica without watchers writes, one event after another, so
	// that commit order is known and SaveEvent returns right at the commit.
	const n = 200
	committed := make(map[string]time.Time, n)
	var order []string
	var slowest time.Duration
	for i := range n {
		t0 := time.Now()
		res, err := w.SaveEvent(ctx, testEvent("pay", fmt.Sprint(i), fmt.Sprint("seq-", i), true, time.Now()), fmt.Sprint("k", i), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		committed[res.Event.EventID] = time.Now()
		slowest = max(slowest, time.Since(t0))
		order = append(order, res.Event.EventID)
		if i%20 == 0 {
			time.Sleep(2 * time.Millisecond) // some idle listeners too
		}
	}
	for name, r := range map[string]*recorder{"a": ra, "b": rb} {
		got := r.waitFor(t, n, 5*time.Second)
		if !slices.Equal(got, order) {
			t.Fatalf("replica %s got the events out of commit order or not all:\n%v\nwant\n%v", name, got, order)
		}
	}
	ra.mu.Lock()
	lat := make([]time.Duration, 0, n)
	for i, e := range ra.events {
		lat = append(lat, max(0, ra.at[i].Sub(committed[e.EventID])))
	}
	ra.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p50, p99, worst := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	t.Logf("commit acknowledged on the writer → watcher called on another replica: p50 %v, p99 %v, max %v (%d events; slowest SaveEvent %v)",
		p50, p99, worst, n, slowest)
	// Typically well under a millisecond; the bounds leave room for a
	// loaded machine.
	if p50 > 100*time.Millisecond || worst > 2*time.Second {
		t.Fatalf("cross-replica delivery too slow: p50 %v, max %v", p50, worst)
	}

	// Concurrent writers on both replicas: every event once on each side.
	var wg sync.WaitGroup
	for i := range 100 {
		s := []*Postgres{a, b}[i%2]
		wg.Go(func() {
			if _, err := s.SaveEvent(ctx, testEvent("pay", fmt.Sprint("c", i), fmt.Sprint("conc-", i), true, time.Now()), "", time.Time{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for name, r := range map[string]*recorder{"a": ra, "b": rb} {
		ids := r.waitFor(t, n+100, 5*time.Second)
		if dup := firstDuplicate(ids); dup != "" {
			t.Fatalf("replica %s got %s twice", name, dup)
		}
		if len(ids) != n+100 {
			t.Fatalf("replica %s got %d events, want %d", name, len(ids), n+100)
		}
	}
}

func firstDuplicate(ids []string) string {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return id
		}
		seen[id] = true
	}
	return ""
}

// TestPostgresListenerReconnect: the listener's connection is killed (twice)
// while the other replica keeps storing events; after reconnecting it
// catches up, and no event is missed or reported twice.
func TestPostgresListenerReconnect(t *testing.T) {
	checkLeaks(t)
	a, b := twoReplicas(t)
	ctx := t.Context()
	r := newRecorder()
	if err := a.WatchEvents(ctx, r.fn); err != nil {
		t.Fatal(err)
	}
	const n = 300
	var order []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			res, err := b.SaveEvent(ctx, testEvent("pay", fmt.Sprint(i), fmt.Sprint("r-", i), true, time.Now()), "", time.Time{})
			if err != nil {
				t.Error(err)
				return
			}
			order = append(order, res.Event.EventID)
			time.Sleep(time.Millisecond)
		}
	}()
	for kill := range 2 {
		time.Sleep(60 * time.Millisecond)
		pid := a.hub.pid.Load()
		var killed bool
		if err := b.pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int32(pid)).Scan(&killed); err != nil || !killed {
			t.Fatalf("terminate listener %d: %v %v", pid, killed, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for a.hub.sessions.Load() < int64(kill+2) {
			if time.Now().After(deadline) {
				t.Fatalf("listener did not reconnect after kill %d", kill+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	<-done
	got := r.waitFor(t, n, 10*time.Second)
	if dup := firstDuplicate(got); dup != "" {
		t.Fatalf("%s reported twice", dup)
	}
	missing := map[string]bool{}
	for _, id := range order {
		missing[id] = true
	}
	for _, id := range got {
		delete(missing, id)
	}
	if len(missing) > 0 || len(got) != n {
		t.Fatalf("got %d events, %d missing", len(got), len(missing))
	}
	t.Logf("%d events, %d listener sessions, %d caught up by sweeps, none missed", n, a.hub.sessions.Load(), a.hub.swept.Load())
	if a.hub.swept.Load() == 0 {
		t.Fatal("no event was caught up after a reconnect: the test did not test it")
	}
}
