package fakebitnovo

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A server opened on the same state file finds every order as it was: the
// lifecycle, the transactions, the history; web_url at the new origin; and
// expiry counted in real time while it was down.
func TestOpenKeepsOrdersAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox", "orders.jsonl")
	clock := newClock()
	first, err := Open(Options{DeviceID: testDevice, PublicURL: "http://127.0.0.1:1111", Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	paid := mustCreate(t, first, `{"expected_output_amount":"25.00","input_currency":"ETH","notes":"kept"}`)
	open := mustCreate(t, first, `{"expected_output_amount":"12.00","input_currency":"XRP"}`)
	gateway := mustCreate(t, first, `{"expected_output_amount":"30.00"}`)
	if err := first.Pay(paid, OutcomeUnderpay); err != nil {
		t.Fatal(err)
	}
	if err := first.Pay(paid, OutcomeFull); err != nil {
		t.Fatal(err)
	}
	before := first.Orders()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	clock.Advance(20 * time.Minute) // past the 15-minute window of the open orders
	second, err := Open(Options{DeviceID: testDevice, PublicURL: "http://127.0.0.1:2222", Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	got, err := second.Order(paid)
	if err != nil {
		t.Fatal(err)
	}
	want := before[0]
	want.WebURL = strings.Replace(want.WebURL, ":1111", ":2222", 1)
	if !reflect.DeepEqual(normalize(got), normalize(want)) {
		t.Fatalf("after restart\n got %+v\nwant %+v", got, want)
	}
	if got.Status != StatusCompleted || len(got.Transactions) != 2 || got.Notes != "kept" {
		t.Fatalf("paid order %+v", got)
	}
	for _, id := range []string{open, gateway} {
		o, err := second.Order(id)
		if err != nil || o.Status != StatusExpired {
			t.Fatalf("order %s after 20 min down: %+v %v", id, o, err)
		}
	}
	if inf, ok := second.orderByShort(got.ShortID); !ok || inf.Identifier != paid {
		t.Fatal("the checkout page's short id is not found after restart")
	}
	// The expiry is a change like any other: it is journaled too.
	third := reopen(t, second, path, clock)
	if o, _ := third.Order(open); o.Status != StatusExpired || o.History[len(o.History)-1].Status != StatusExpired {
		t.Fatalf("%+v", o)
	}
	if o, _ := third.Order(paid); o.WebURL != before[0].WebURL { // no PublicURL: the stored web_url stands
		t.Fatalf("web_url %q, want %q", o.WebURL, before[0].WebURL)
	}
	if third.OrderCount() != 3 {
		t.Fatalf("%d orders", third.OrderCount())
	}
}

func reopen(t *testing.T, s *Server, path string, clock *fakeClock) *Server {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(Options{DeviceID: testDevice, Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

// normalize drops the monotonic clock reading so restored times compare.
func normalize(inf OrderInfo) OrderInfo {
	inf.CreatedAt, inf.EditedAt, inf.ExpiredTime = inf.CreatedAt.Round(0), inf.EditedAt.Round(0), inf.ExpiredTime.Round(0)
	for i := range inf.History {
		inf.History[i].At = inf.History[i].At.Round(0)
	}
	for i := range inf.Transactions {
		inf.Transactions[i].CreatedAt = inf.Transactions[i].CreatedAt.Round(0)
	}
	return inf
}

// A crash mid-write leaves a torn last line: it is skipped and the file is
// rewritten, so the next append starts on a line of its own. Any other bad
// line is an error naming the file.
func TestOpenStateFileDamage(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	s, err := Open(Options{DeviceID: testDevice, Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, s, `{"expected_output_amount":"25.00","input_currency":"BTC"}`)
	_ = s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, `{"id":"torn`...), 0o600); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path, clock)
	if _, err := s.Order(id); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(id, OutcomeFull); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path, clock)
	if o, err := s.Order(id); err != nil || o.Status != StatusCompleted {
		t.Fatalf("%+v %v", o, err)
	}
	_ = s.Close()

	// A damaged line (say a torn write another process appended to) is
	// skipped and counted; the rest loads and the file is rewritten clean.
	if err := os.WriteFile(path, []byte("not json\n"+string(b)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Options{DeviceID: testDevice, Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.SkippedStateLines() != 1 {
		t.Errorf("%d skipped lines, want 1", s.SkippedStateLines())
	}
	if _, err := s.Order(id); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); strings.Contains(string(b), "not json") {
		t.Error("the damaged line is still in the file")
	}
}

// Two servers on one state file (two MCP clients running the server on
// one data dir) see each other's orders and changes, also across a
// rewrite of the file by one of them.
func TestTwoServersShareTheJournal(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	a, err := Open(Options{DeviceID: testDevice, PublicURL: "http://127.0.0.1:1111", Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Options{DeviceID: testDevice, PublicURL: "http://127.0.0.1:2222", Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	id := mustCreate(t, b, `{"expected_output_amount":"25.00","input_currency":"LTC"}`)
	got, err := a.Order(id) // created through b
	if err != nil {
		t.Fatalf("a does not see b's order: %v", err)
	}
	if got.WebURL != "http://127.0.0.1:1111/"+got.ShortID+"/" {
		t.Errorf("a serves b's order at %s", got.WebURL)
	}
	if _, ok := a.orderByShort(got.ShortID); !ok {
		t.Error("a's checkout page does not find b's order")
	}
	if err := a.Pay(id, OutcomeFull); err != nil { // paid through a's page
		t.Fatal(err)
	}
	if o, _ := b.Order(id); o.Status != StatusCompleted {
		t.Fatalf("b sees %s after a's payment", o.Status)
	}

	// a rewrites the file; b follows the new file.
	a.mu.Lock()
	a.rewriteJournal()
	a.mu.Unlock()
	other := mustCreate(t, a, `{"expected_output_amount":"25.00","input_currency":"BTC"}`)
	if _, err := b.Order(other); err != nil {
		t.Fatalf("b lost track of the file after a's rewrite: %v", err)
	}
	if a.OrderCount() != 2 || b.OrderCount() != 2 {
		t.Fatalf("orders: a %d, b %d", a.OrderCount(), b.OrderCount())
	}
	if err := a.StateErr(); err != nil {
		t.Fatal(err)
	}
	if err := b.StateErr(); err != nil {
		t.Fatal(err)
	}
}

// Many changes to few orders are compacted on the next open.
func TestOpenCompactsTheJournal(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	s, err := Open(Options{DeviceID: testDevice, Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	id := mustCreate(t, s, `{"expected_output_amount":"25.00","input_currency":"BTC"}`)
	for range 40 { // PE → IA → AC → IA … : 80 more lines, too few to compact while running
		if err := s.SetStatus(id, StatusInsufficientAmount); err != nil && !errors.Is(err, ErrInvalidTransition) {
			t.Fatal(err)
		}
		if err := s.SetStatus(id, StatusAwaitingCompletion); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, path, clock)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 1 {
		t.Fatalf("%d lines after compaction, want 1", n)
	}
	if o, _ := s.Order(id); o.Status != StatusAwaitingCompletion {
		t.Fatalf("%+v", o)
	}
}

// A long-running server compacts its journal as it goes.
func TestJournalCompactsWhileRunning(t *testing.T) {
	clock := newClock()
	path := filepath.Join(t.TempDir(), "orders.jsonl")
	s, err := Open(Options{DeviceID: testDevice, Now: clock.Now}, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id := mustCreate(t, s, `{"expected_output_amount":"25.00","input_currency":"BTC"}`)
	for range 600 { // 1200 changes of one order
		if err := s.SetStatus(id, StatusInsufficientAmount); err != nil && !errors.Is(err, ErrInvalidTransition) {
			t.Fatal(err)
		}
		if err := s.SetStatus(id, StatusAwaitingCompletion); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n > 1100 || n < 1 {
		t.Fatalf("%d lines in the journal after 1201 changes to one order", n)
	}
	if err := s.StateErr(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path, clock)
	if o, _ := s.Order(id); o.Status != StatusAwaitingCompletion {
		t.Fatalf("%+v", o)
	}
}

// FuzzOpenState feeds arbitrary state files to Open: it refuses or loads
// them, never panics, and what it loads can be served and driven.
func FuzzOpenState(f *testing.F) {
	clock := newClock()
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.jsonl")
	s, err := Open(Options{DeviceID: testDevice, Now: clock.Now}, seed)
	if err != nil {
		f.Fatal(err)
	}
	id := mustCreate(f, s, `{"expected_output_amount":"25.00","input_currency":"XRP"}`)
	mustCreate(f, s, `{"expected_output_amount":"25.00"}`)
	if err := s.Pay(id, OutcomeUnderpay); err != nil {
		f.Fatal(err)
	}
	_ = s.Close()
	b, err := os.ReadFile(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"id":"11111111-1111-4111-8111-111111111111","short_id":"abcd","status":"CO","fiat_amount":"1","history":[]}` + "\n"))
	f.Add([]byte(`{"id":"11111111-1111-4111-8111-111111111111","short_id":"abcd","status":"PE","fiat_amount":"-1","currency":"ETH","crypto_amount":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "orders.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Options{DeviceID: testDevice, Now: clock.Now}, path)
		if err != nil {
			return
		}
		defer s.Close()
		for _, o := range s.Orders() {
			_ = s.Pay(o.Identifier, OutcomeFull)
			_ = s.SelectCurrency(o.Identifier, "BTC")
			if rec := call(t, s, http.MethodGet, "/"+o.ShortID+"/", "", ""); rec.Code != http.StatusOK {
				t.Fatalf("page of a loaded order: %d", rec.Code)
			}
			_ = call(t, s, http.MethodGet, "/api/v1/orders/info/"+o.Identifier, "", "")
		}
	})
}
