package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// checkLeaks fails t if goroutines started during t outlive its cleanups
// (the stores' Close included: register it first).
func checkLeaks(t *testing.T) {
	t.Helper()
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

func testEvent(identifier, nonce, body string, validated bool, at time.Time) Event {
	sum := sha256.Sum256([]byte(body))
	return Event{Identifier: identifier, Status: "CO", Nonce: nonce, Validated: validated,
		Payload: []byte(body), BodyHash: hex.EncodeToString(sum[:]), ReceivedAt: at}
}

func TestPostgresSaveEvent(t *testing.T) {
	checkLeaks(t)
	ctx := t.Context()
	s := openTestPostgres(t, postgresTestURL(t))
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	until := t0.Add(5 * time.Minute)

	save := func(e Event, key string, until time.Time) (SaveResult, error) {
		t.Helper()
		return s.SaveEvent(ctx, e, key, until)
	}
	a := testEvent("pay-1", "n1", `{"a":1}`, true, t0)
	res, err := save(a, "k1", until)
	if err != nil || res.Duplicate || res.Event.EventID != "pay-1:n1" || !res.Event.ReceivedAt.Equal(t0) {
		t.Fatalf("first save: %+v %v", res, err)
	}
	// The key is held: another body is refused and nothing is written.
	if _, err := save(testEvent("pay-1", "n1", `{"a":2}`, true, t0.Add(time.Second)), "k1", until); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed key: %v", err)
	}
	// Same body, new key: a duplicate, reported as the earlier event; the
	// new key is recorded all the same.
	res, err = save(testEvent("pay-1", "n9", `{"a":1}`, false, t0.Add(2*time.Second)), "k2", until)
	if err != nil || !res.Duplicate || res.Event.EventID != "pay-1:n1" || string(res.Event.Payload) != `{"a":1}` ||
		!res.Event.Validated || res.Event.Nonce != "n1" || !res.Event.ReceivedAt.Equal(t0) {
		t.Fatalf("duplicate: %+v %v", res, err)
	}
	if _, err := save(testEvent("pay-1", "n3", `{"a":3}`, true, t0), "k2", until); !errors.Is(err, ErrReplay) {
		t.Fatalf("key of a duplicate not recorded: %v", err)
	}
	// The id "<identifier>:<nonce>" taken by another body gets a suffix.
	for i, want := range []string{"pay-1:n1#2", "pay-1:n1#3"} {
		res, err := save(testEvent("pay-1", "n1", fmt.Sprintf(`{"b":%d}`, i), true, t0.Add(time.Duration(3+i)*time.Second)), "", time.Time{})
		if err != nil || res.Duplicate || res.Event.EventID != want {
			t.Fatalf("collision %d: %+v %v", i, res, err)
		}
	}
	// No replay key: only the body decides.
	u := testEvent("pay-2", "", `{"u":1}`, false, t0.Add(10*time.Second))
	if res, err := save(u, "", time.Time{}); err != nil || res.Duplicate || res.Event.EventID != "pay-2:" {
		t.Fatalf("unsigned: %+v %v", res, err)
	}
	if res, err := save(u, "", time.Time{}); err != nil || !res.Duplicate {
		t.Fatalf("unsigned again: %+v %v", res, err)
	}
	// An expired key may be used again.
	if _, err := save(testEvent("pay-3", "x", `{"x":1}`, true, t0), "short", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := save(testEvent("pay-3", "y", `{"x":2}`, true, t0.Add(30*time.Second)), "short", t0.Add(time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("unexpired key: %v", err)
	}
	if _, err := save(testEvent("pay-3", "y", `{"x":2}`, true, t0.Add(time.Minute)), "short", t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("expired key refused: %v", err)
	}

	// Lists are newest first, with the total that matched.
	all, total, err := s.ListEvents(ctx, EventQuery{})
	if err != nil || total != 6 || len(all) != 6 {
		t.Fatalf("list all: %d %d %v", len(all), total, err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ReceivedAt.After(all[i-1].ReceivedAt) {
			t.Fatalf("not newest first: %v after %v", all[i].ReceivedAt, all[i-1].ReceivedAt)
		}
	}
	if all[0].EventID != "pay-3:y" {
		t.Fatalf("newest: %+v", all[0])
	}
	got, total, err := s.ListEvents(ctx, EventQuery{Identifier: "pay-1", ValidatedOnly: true, Limit: 2})
	if err != nil || total != 3 || len(got) != 2 || got[0].EventID != "pay-1:n1#3" || got[1].EventID != "pay-1:n1#2" {
		t.Fatalf("list pay-1: %+v %d %v", got, total, err)
	}
	if got, total, _ := s.ListEvents(ctx, EventQuery{ValidatedOnly: true}); total != 5 || len(got) != 5 {
		t.Fatalf("validated: %d %d", len(got), total)
	}
	if e, err := s.LatestEvent(ctx, "pay-1"); err != nil || e.EventID != "pay-1:n1#3" || string(e.Payload) != `{"b":1}` {
		t.Fatalf("latest: %+v %v", e, err)
	}
	if _, err := s.LatestEvent(ctx, "pay-2"); !errors.Is(err, ErrNotFound) { // unvalidated only
		t.Fatalf("latest unvalidated: %v", err)
	}
	st, err := s.EventStats(ctx)
	if err != nil || st.TotalEvents != 6 || st.UniqueIdentifiers != 3 || st.ValidatedCount != 5 || st.UnvalidatedCount != 1 ||
		st.Oldest == nil || !st.Oldest.Equal(t0) || st.Newest == nil || !st.Newest.Equal(t0.Add(time.Minute)) {
		t.Fatalf("stats: %+v %v", st, err)
	}

	// Retention: a TTL, then a cap, then expired replay keys.
	n, err := s.PruneEvents(ctx, 0, t0.Add(time.Second), t0)
	if err != nil || n != 2 { // a and pay-3's first
		t.Fatalf("prune ttl: %d %v", n, err)
	}
	n, err = s.PruneEvents(ctx, 3, time.Time{}, t0)
	if err != nil || n != 1 {
		t.Fatalf("prune cap: %d %v", n, err)
	}
	if left, total, _ := s.ListEvents(ctx, EventQuery{}); total != 3 || left[0].EventID != "pay-3:y" || left[2].EventID != "pay-1:n1#3" {
		t.Fatalf("kept: %+v", left)
	}
	if _, err := s.PruneEvents(ctx, 0, time.Time{}, until.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if res, err := save(testEvent("pay-1", "n1", `{"a":4}`, true, until.Add(time.Second)), "k1", time.Now().Add(time.Hour)); err != nil || res.Event.EventID != "pay-1:n1" {
		t.Fatalf("pruned key refused: %+v %v", res, err)
	}
	if st, _ := s.EventStats(ctx); st.ReplayKeys != 1 || st.TotalEvents != 4 {
		t.Fatalf("stats after prune: %+v", st)
	}
	var empty EventStats
	s2 := openTestPostgres(t, postgresTestURL(t))
	if st, err := s2.EventStats(ctx); err != nil || st != empty {
		t.Fatalf("empty stats: %+v %v", st, err)
	}
	if _, err := s2.LatestEvent(ctx, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

// TestPostgresSaveEventConcurrentSameBody: one body saved by many callers at
// once is stored once; the others are duplicates of it.
func TestPostgresSaveEventConcurrentSameBody(t *testing.T) {
	checkLeaks(t)
	ctx := t.Context()
	s := openTestPostgres(t, postgresTestURL(t))
	now := time.Now()
	var mu sync.Mutex
	stored, dups := 0, 0
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			res, err := s.SaveEvent(ctx, testEvent("pay", "n", `{"same":true}`, true, now), fmt.Sprint("key-", i), now.Add(time.Hour))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Duplicate {
				dups++
			} else {
				stored++
			}
			if res.Event.EventID != "pay:n" {
				t.Errorf("event id %q", res.Event.EventID)
			}
		})
	}
	wg.Wait()
	if stored != 1 || dups != 31 {
		t.Fatalf("stored %d, duplicates %d", stored, dups)
	}
}

// TestPostgresSaveEventBadOneInBatch: a call that fails does not take the
// calls committed in the same transaction down with it.
func TestPostgresSaveEventBadOneInBatch(t *testing.T) {
	checkLeaks(t)
	ctx := t.Context()
	s := openTestPostgres(t, postgresTestURL(t))
	now := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 64)
	for i := range errs {
		wg.Go(func() {
			id := fmt.Sprint("pay-", i)
			if i == 17 {
				id = "bad\x00id" // text cannot hold NUL: the statement fails
			}
			_, errs[i] = s.SaveEvent(ctx, testEvent(id, "n", fmt.Sprint(i), true, now), "", time.Time{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 17) {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if _, total, _ := s.ListEvents(ctx, EventQuery{}); total != 63 {
		t.Fatalf("%d events stored, want 63", total)
	}
}

// recorder collects what a watcher is given.
type recorder struct {
	mu     sync.Mutex
	events []Event
	at     []time.Time
	more   chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1)} }

func (r *recorder) fn(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.at = append(r.at, time.Now())
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.EventID
	}
	return out
}

// waitFor waits until r holds n events or the deadline passes.
func (r *recorder) waitFor(t *testing.T, n int, d time.Duration) []string {
	t.Helper()
	deadline := time.After(d)
	for {
		ids := r.ids()
		if len(ids) >= n {
			return ids
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("watcher got %d events in %v, want %d", len(ids), d, n)
		}
	}
}

func TestPostgresWatchEventsLocal(t *testing.T) {
	checkLeaks(t)
	ctx := t.Context()
	s := openTestPostgres(t, postgresTestURL(t))
	now := time.Now()
	// Committed before the first watcher: not reported.
	if _, err := s.SaveEvent(ctx, testEvent("pay", "0", "before", true, now), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	r := newRecorder()
	if err := s.WatchEvents(wctx, r.fn); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 1; i <= 5; i++ {
		res, err := s.SaveEvent(ctx, testEvent("pay", fmt.Sprint(i), fmt.Sprint("body-", i), true, now), "", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.Event.EventID)
	}
	// A duplicate is not reported.
	if res, err := s.SaveEvent(ctx, testEvent("pay", "x", "body-1", true, now), "", time.Time{}); err != nil || !res.Duplicate {
		t.Fatal(res, err)
	}
	if got := r.waitFor(t, 5, 5*time.Second); !slices.Equal(got, want) {
		t.Fatalf("watcher got %v, want %v", got, want)
	}
	r.mu.Lock()
	got := r.events[4]
	r.mu.Unlock()
	if got.Identifier != "pay" || string(got.Payload) != "body-5" || !got.Validated || got.BodyHash == "" || got.ReceivedAt.IsZero() {
		t.Fatalf("delivered event: %+v", got)
	}
	// Saved (and so published) before the second watcher: not given to it.
	stop()
	time.Sleep(10 * time.Millisecond) // the unregistering runs in its own goroutine
	if _, err := s.SaveEvent(ctx, testEvent("pay", "6", "body-6", true, now), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	r2 := newRecorder()
	if err := s.WatchEvents(ctx, r2.fn); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveEvent(ctx, testEvent("pay", "7", "body-7", true, now), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	r2.waitFor(t, 1, 5*time.Second)
	time.Sleep(20 * time.Millisecond)
	if ids := r.ids(); len(ids) != 5 {
		t.Fatalf("a cancelled watcher was called: %v", ids)
	}
	if ids := r2.ids(); len(ids) != 1 || ids[0] != "pay:7" {
		t.Fatalf("second watcher: %v", ids)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WatchEvents(ctx, r.fn); !errors.Is(err, ErrClosed) {
		t.Fatalf("watch after close: %v", err)
	}
	if _, err := s.SaveEvent(ctx, testEvent("pay", "8", "body-8", true, now), "", time.Time{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("save after close: %v", err)
	}
}

func TestParseSnapshot(t *testing.T) {
	for _, tc := range []struct {
		in      string
		visible []uint64
		hidden  []uint64
		bad     bool
	}{
		{in: "10:10:", visible: []uint64{1, 9}, hidden: []uint64{10, 11}},
		{in: "10:20:12,15", visible: []uint64{9, 10, 13, 19}, hidden: []uint64{12, 15, 20, 99}},
		{in: "10:20", bad: true},
		{in: "a:20:", bad: true},
		{in: "10:20:x", bad: true},
	} {
		snap, err := parseSnapshot(tc.in)
		if (err != nil) != tc.bad {
			t.Fatalf("%q: %v", tc.in, err)
		}
		for _, x := range tc.visible {
			if !snap.visible(x) {
				t.Errorf("%q: %d should be visible", tc.in, x)
			}
		}
		for _, x := range tc.hidden {
			if snap.visible(x) {
				t.Errorf("%q: %d should not be visible", tc.in, x)
			}
		}
	}
}
