package fakebitnovo

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorder collects OnChange notifications.
type recorder struct {
	mu     sync.Mutex
	events []OrderInfo
}

func (r *recorder) OnChange(o OrderInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, o)
}

func (r *recorder) statuses() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{}
	for _, e := range r.events {
		out = append(out, e.Status)
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}

func TestExpiryIsLazyAndUsesTheClock(t *testing.T) {
	for _, body := range []string{
		`{"expected_output_amount":10,"input_currency":"BTC_TEST"}`, // PE
		`{"expected_output_amount":10}`,                             // NR
	} {
		t.Run(body, func(t *testing.T) {
			clk := newClock()
			rec := &recorder{}
			s := New(Options{Now: clk.Now, OrderTTL: 5 * time.Minute, OnChange: rec.OnChange})
			id := mustCreate(t, s, body)
			start := info(t, s, id)["status"]
			clk.Advance(5*time.Minute - time.Nanosecond)
			if got := info(t, s, id)["status"]; got != start {
				t.Fatalf("status %v before the deadline, want %v", got, start)
			}
			if n := len(rec.statuses()); n != 0 {
				t.Fatalf("%d notifications before expiry", n)
			}
			clk.Advance(time.Nanosecond)
			got := info(t, s, id)
			if got["status"] != StatusExpired {
				t.Fatalf("status %v at the deadline, want EX", got["status"])
			}
			if got["expired_time"] != "2025-01-15T10:35:00.000000Z" {
				t.Errorf("expired_time %v", got["expired_time"])
			}
			// Reported once, however often it is read.
			info(t, s, id)
			s.Orders()
			if diff := cmp.Diff([]string{"EX"}, rec.statuses()); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
			if err := s.Pay(id, OutcomeFull); !errors.Is(err, ErrInvalidTransition) {
				t.Errorf("Pay on an expired order: %v", err)
			}
		})
	}
}

func TestCurrencySelectionRestartsTheWindow(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now})
	id := mustCreate(t, s, `{"expected_output_amount":30}`)
	clk.Advance(10 * time.Minute)
	if err := s.SelectCurrency(id, "ETH"); err != nil {
		t.Fatal(err)
	}
	inf, err := s.Order(id)
	if err != nil {
		t.Fatal(err)
	}
	if inf.Status != StatusPending || inf.CurrencyID != "ETH" || inf.CryptoAmount != "0.01000000" {
		t.Errorf("after selection: %+v", inf)
	}
	if want := clk.Now().Add(defaultOrderTTL); !inf.ExpiredTime.Equal(want) {
		t.Errorf("expires %v, want %v", inf.ExpiredTime, want)
	}
	tests := []struct {
		name, id, symbol string
		want             error
	}{
		{"not NR any more", id, "BTC", ErrInvalidTransition},
		{"unknown currency", id, "DOGE", ErrUnknownCurrency},
		{"unknown order", "00000000-0000-4000-8000-000000000000", "BTC", ErrNotFound},
	}
	for _, tc := range tests {
		if err := s.SelectCurrency(tc.id, tc.symbol); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	small := mustCreate(t, s, `{"expected_output_amount":1}`)
	if err := s.SelectCurrency(small, "BTC"); !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("1 EUR in BTC: %v", err)
	}
}

func TestPayOutcomes(t *testing.T) {
	const onchain = `{"expected_output_amount":50,"input_currency":"BTC"}`
	const gateway = `{"expected_output_amount":50}`
	tests := []struct {
		name        string
		create      string
		outcome     string
		notes       []string // OnChange statuses in order
		confirmed   string
		unconfirmed string
		txs         int
	}{
		{"full", onchain, OutcomeFull, []string{"AC", "CO"}, "0.00083333", "0.00000000", 1},
		{"full gateway", gateway, OutcomeFull, []string{"PE", "AC", "CO"}, "0.00083333", "0.00000000", 1},
		{"underpay", onchain, OutcomeUnderpay, []string{"IA"}, "0.00000000", "0.00041666", 1},
		{"underpay gateway", gateway, OutcomeUnderpay, []string{"PE", "IA"}, "0.00000000", "0.00041666", 1},
		{"overpay", onchain, OutcomeOverpay, []string{"OC"}, "0.00000000", "0.00124999", 1},
		{"late", onchain, OutcomeLate, []string{"OC"}, "0.00000000", "0.00083333", 1},
		{"expire", onchain, OutcomeExpire, []string{"EX"}, "0.00000000", "0.00000000", 0},
		{"expire gateway", gateway, OutcomeExpire, []string{"EX"}, "0", "0", 0},
		{"cancel", onchain, OutcomeCancel, []string{"CA"}, "0.00000000", "0.00000000", 0},
		{"fail gateway", gateway, OutcomeFail, []string{"FA"}, "0", "0", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			s := New(Options{OnChange: rec.OnChange})
			id := mustCreate(t, s, tc.create)
			if err := s.Pay(id, tc.outcome); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.notes, rec.statuses()); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
			got := info(t, s, id)
			if got["status"] != tc.notes[len(tc.notes)-1] {
				t.Errorf("E2 status %v", got["status"])
			}
			if got["confirmed_amount"] != json.Number(tc.confirmed) || got["unconfirmed_amount"] != json.Number(tc.unconfirmed) {
				t.Errorf("confirmed %v unconfirmed %v, want %s %s", got["confirmed_amount"], got["unconfirmed_amount"], tc.confirmed, tc.unconfirmed)
			}
			txs, _ := got["transactions"].([]any)
			if len(txs) != tc.txs {
				t.Fatalf("%d transactions, want %d", len(txs), tc.txs)
			}
			if tc.outcome == OutcomeFull {
				tx := txs[0].(map[string]any)
				if tx["confirmed"] != true || tx["block"] == nil || tx["currency"] != "BTC" || len(tx["tx_hash"].(string)) != 64 {
					t.Errorf("transaction %v", tx)
				}
			}
		})
	}
}

func TestPayFromIntermediateStates(t *testing.T) {
	s := New(Options{})
	id := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
	if err := s.Pay(id, OutcomeUnderpay); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(id, OutcomeFull); err != nil {
		t.Fatalf("full after underpay: %v", err)
	}
	inf, _ := s.Order(id)
	if inf.Status != StatusCompleted || inf.ConfirmedAmount != "0.00083333" || inf.ReceivedAmount != "0.00083333" || len(inf.Transactions) != 2 {
		t.Errorf("after IA → full: %+v", inf)
	}

	id = mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
	if err := s.SetStatus(id, StatusAwaitingCompletion); err != nil {
		t.Fatal(err)
	}
	if err := s.Pay(id, OutcomeOverpay); err != nil {
		t.Fatalf("overpay from AC: %v", err)
	}
	if err := s.Pay(id, OutcomeFull); err != nil {
		t.Fatalf("full from OC: %v", err)
	}
	if inf, _ := s.Order(id); inf.Status != StatusCompleted {
		t.Errorf("status %s", inf.Status)
	}
}

func TestPayErrors(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now})
	done := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
	if err := s.Pay(done, OutcomeFull); err != nil {
		t.Fatal(err)
	}
	acID := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
	if err := s.SetStatus(acID, StatusAwaitingCompletion); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, id, outcome string
		want              error
	}{
		{"full on CO", done, OutcomeFull, ErrInvalidTransition},
		{"cancel on CO", done, OutcomeCancel, ErrInvalidTransition},
		{"expire on CO", done, OutcomeExpire, ErrInvalidTransition},
		{"underpay on AC", acID, OutcomeUnderpay, ErrInvalidTransition},
		{"late on AC", acID, OutcomeLate, ErrInvalidTransition},
		{"unknown outcome", acID, "refund", ErrUnknownOutcome},
		{"unknown order", "00000000-0000-4000-8000-000000000000", OutcomeFull, ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Pay(tc.id, tc.outcome); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}

	// "late" is accepted after the deadline; "full" is not.
	lateID := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
	fullID := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
	clk.Advance(time.Hour)
	if err := s.Pay(lateID, OutcomeLate); err != nil {
		t.Errorf("late after deadline: %v", err)
	}
	if inf, _ := s.Order(lateID); inf.Status != StatusOutOfCondition {
		t.Errorf("late status %s", inf.Status)
	}
	if err := s.Pay(fullID, OutcomeFull); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("full after deadline: %v", err)
	}
}

func TestTransitionTable(t *testing.T) {
	// Reference §4, written out independently of canTransition.
	allowed := map[string][]string{
		"NR": {"PE", "CA", "EX", "FA"},
		"PE": {"AC", "IA", "OC", "CO", "CA", "EX", "FA"},
		"AC": {"CO", "IA", "OC", "CA", "EX", "FA"},
		"IA": {"AC", "CO", "CA", "EX", "FA"},
		"OC": {"AC", "CO", "CA", "EX", "FA"},
	}
	all := []string{"NR", "PE", "AC", "IA", "OC", "CO", "CA", "EX", "FA", "RF", "", "P"}
	for _, from := range all {
		for _, to := range all {
			want := false
			for _, a := range allowed[from] {
				want = want || a == to
			}
			if got := canTransition(from, to); got != want {
				t.Errorf("canTransition(%q, %q) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestSetStatus(t *testing.T) {
	tests := []struct {
		name   string
		create string
		path   []string // statuses set in order; the last may fail
		want   error
	}{
		{"NR to PE assigns a currency", `{"expected_output_amount":50}`, []string{"PE"}, nil},
		{"NR to CO", `{"expected_output_amount":50}`, []string{"CO"}, ErrInvalidTransition},
		{"PE AC CO", `{"expected_output_amount":50,"input_currency":"BTC"}`, []string{"AC", "CO"}, nil},
		{"PE IA AC OC", `{"expected_output_amount":50,"input_currency":"BTC"}`, []string{"IA", "AC", "OC"}, nil},
		{"PE to PE", `{"expected_output_amount":50,"input_currency":"BTC"}`, []string{"PE"}, ErrInvalidTransition},
		{"PE to NR", `{"expected_output_amount":50,"input_currency":"BTC"}`, []string{"NR"}, ErrInvalidTransition},
		{"terminal", `{"expected_output_amount":50,"input_currency":"BTC"}`, []string{"CA", "PE"}, ErrInvalidTransition},
		{"unknown status", `{"expected_output_amount":50,"input_currency":"BTC"}`, []string{"RF"}, ErrUnknownStatus},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			s := New(Options{OnChange: rec.OnChange})
			id := mustCreate(t, s, tc.create)
			var err error
			for _, st := range tc.path {
				if err = s.SetStatus(id, st); err != nil {
					break
				}
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if diff := cmp.Diff(tc.path, rec.statuses()); diff != "" {
				t.Errorf("notifications (-want +got):\n%s", diff)
			}
			inf, _ := s.Order(id)
			if inf.Status != tc.path[len(tc.path)-1] || inf.CurrencyID == "" || inf.Address == "" {
				t.Errorf("order %+v", inf)
			}
		})
	}
	s := New(Options{})
	if err := s.SetStatus("00000000-0000-4000-8000-000000000000", "CO"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
}

func TestOnChangeMayCallBack(t *testing.T) {
	// OnChange runs outside the lock, so it can read the fake.
	var s *Server
	seen := make(chan string, 4)
	s = New(Options{OnChange: func(o OrderInfo) {
		inf, err := s.Order(o.Identifier)
		if err != nil {
			t.Error(err)
		}
		seen <- inf.Status
	}})
	id := mustCreate(t, s, `{"expected_output_amount":50,"input_currency":"BTC"}`)
	if err := s.Pay(id, OutcomeCancel); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got != StatusCancelled {
		t.Errorf("status seen from OnChange: %s", got)
	}
}

func TestOrdersSnapshot(t *testing.T) {
	s := New(Options{})
	var ids []string
	for _, body := range []string{
		`{"expected_output_amount":10}`,
		`{"expected_output_amount":20,"input_currency":"LTC"}`,
		`{"expected_output_amount":30,"input_currency":"XRP"}`,
	} {
		ids = append(ids, mustCreate(t, s, body))
	}
	list := s.Orders()
	var got []string
	for _, o := range list {
		got = append(got, o.Identifier)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("creation order (-want +got):\n%s", diff)
	}
	if s.OrderCount() != 3 {
		t.Errorf("OrderCount = %d", s.OrderCount())
	}
	// Snapshots are copies.
	list[1].Status = "XX"
	if inf, _ := s.Order(ids[1]); inf.Status != StatusPending {
		t.Errorf("snapshot aliased the order: %s", inf.Status)
	}
}

func TestOrderLimitEvictsOldest(t *testing.T) {
	s := New(Options{})
	first := mustCreate(t, s, `{"expected_output_amount":10}`)
	p := createParams{amount: mustAmount("1"), fiat: "EUR", language: "EN"}
	for range maxOrders {
		s.createOrder(p, testDevice, "http://x")
	}
	if n := s.OrderCount(); n != maxOrders {
		t.Errorf("OrderCount = %d, want %d", n, maxOrders)
	}
	if _, err := s.Order(first); !errors.Is(err, ErrNotFound) {
		t.Errorf("oldest order not evicted: %v", err)
	}
	if rec := call(t, s, http.MethodGet, "/api/v1/orders/info/"+first, "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("evicted order info: %d", rec.Code)
	}
}
