package fakebitnovo

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
)

// testSecret is the key of Bitnovo's published test vector.
const testSecret = "02d4b921007cad413e79731dd02b3267cd43a14d150a0ae6a1c651942122bb62"

// fastRetries keeps retry tests quick.
var fastRetries = hookTuning{delays: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}}

func TestWebhookTestVector(t *testing.T) {
	inf := OrderInfo{
		Identifier:        "1040095a-737d-41a2-a2e1-d031d19ec8cd",
		Status:            StatusAwaitingCompletion,
		FiatAmount:        "100.00",
		CryptoAmount:      "1.21461894",
		UnconfirmedAmount: "8.00000000",
		ConfirmedAmount:   "0.00000000",
		CurrencyID:        "DASH",
	}
	body, err := WebhookBody(inf)
	if err != nil {
		t.Fatal(err)
	}
	const wantBody = `{"fiat_amount": 100.0, "status": "AC", "crypto_amount": 1.21461894, "unconfirmed_amount": 8.0, "confirmed_amount": 0.0, "currency": "DASH", "identifier": "1040095a-737d-41a2-a2e1-d031d19ec8cd"}`
	if string(body) != wantBody {
		t.Fatalf("body\n got %s\nwant %s", body, wantBody)
	}
	key, err := hex.DecodeString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := webhook.Sign(key, "1645634942", body), "ff2ac6c50f09916783f1192c35e7f169a14a806e944827b9136bf1406ade8c9d"; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	// The compact form signs differently (reference §3.8): bytes matter.
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		t.Fatal(err)
	}
	if got, want := webhook.Sign(key, "1645634942", compact.Bytes()), "454171227fba8e55a5e27e7d3a677fb9590ba747883a1fbb2218729ced3df05f"; got != want {
		t.Errorf("compact signature %s, want %s", got, want)
	}
}

func TestWebhookBodyWithoutCurrency(t *testing.T) {
	body, err := WebhookBody(OrderInfo{Identifier: "x", Status: "CA", FiatAmount: "12.50", UnconfirmedAmount: "0", ConfirmedAmount: "0"})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"fiat_amount": 12.5, "status": "CA", "crypto_amount": 0.0, "unconfirmed_amount": 0.0, "confirmed_amount": 0.0, "currency": null, "identifier": "x"}`
	if string(body) != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
	if _, err := WebhookBody(OrderInfo{FiatAmount: "1/3"}); err == nil {
		t.Error("bad amount: no error")
	}
}

// hook is one webhook as the test receiver saw it.
type hook struct {
	Nonce, Signature, ContentType string
	Body                          []byte
	Valid                         bool // signature verified by the test itself
	Payload                       map[string]any
}

// hookReceiver is an httptest webhook endpoint that verifies signatures
// independently of the fake's signer.
type hookReceiver struct {
	t   *testing.T
	key []byte
	srv *httptest.Server

	mu      sync.Mutex
	got     []hook
	codes   []int         // answers in order, then 200
	release chan struct{} // when set, each request waits for it to close
	arrived chan struct{}
}

func newHookReceiver(t *testing.T, codes ...int) *hookReceiver {
	t.Helper()
	key, err := hex.DecodeString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	r := &hookReceiver{t: t, key: key, codes: codes, arrived: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	nonce, sig := req.Header.Get("X-NONCE"), req.Header.Get("X-SIGNATURE")
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(nonce))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	h := hook{Nonce: nonce, Signature: sig, ContentType: req.Header.Get("Content-Type"), Body: body,
		Valid: req.Method == http.MethodPost && hmac.Equal([]byte(sig), []byte(want))}
	_ = json.Unmarshal(body, &h.Payload)

	r.mu.Lock()
	r.got = append(r.got, h)
	code := http.StatusOK
	if len(r.codes) > 0 {
		code, r.codes = r.codes[0], r.codes[1:]
	}
	release := r.release
	r.mu.Unlock()
	r.arrived <- struct{}{}
	if release != nil {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}
	w.WriteHeader(code)
}

func (r *hookReceiver) hooks() []hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hook(nil), r.got...)
}

// wait waits until n webhooks arrived.
func (r *hookReceiver) wait(n int) []hook {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := r.hooks()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d webhooks after 5s, want %d", len(got), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func statusesOf(hooks []hook) []string {
	out := []string{}
	for _, h := range hooks {
		s, _ := h.Payload["status"].(string)
		out = append(out, s)
	}
	return out
}

// waitDeliveries waits until the delivery log holds n entries.
func waitDeliveries(t *testing.T, s *Server, n int) []Delivery {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := s.Deliveries()
		if len(d) >= n {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries logged after 5s, want %d: %+v", len(d), n, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newHookServer(t *testing.T, clk *fakeClock, url string, tune hookTuning) *Server {
	t.Helper()
	s := New(Options{Now: clk.Now, OrderTTL: 10 * time.Minute, NotificationURL: url, DeviceSecret: testSecret, hookTuning: tune})
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestWebhookOnEveryStatusChange(t *testing.T) {
	const redirect = `{"expected_output_amount":"24.00","fiat":"EUR"}`
	const onchain = `{"expected_output_amount":"30.00","fiat":"EUR","input_currency":"DASH"}`
	tests := []struct {
		name   string
		create string
		act    func(s *Server, clk *fakeClock, id string) error
		want   []string
	}{
		{"create sends nothing", onchain, func(*Server, *fakeClock, string) error { return nil }, []string{}},
		{"pay full from NR", redirect, func(s *Server, _ *fakeClock, id string) error { return s.Pay(id, OutcomeFull) }, []string{"PE", "AC", "CO"}},
		{"underpay then full", onchain, func(s *Server, _ *fakeClock, id string) error {
			return errors.Join(s.Pay(id, OutcomeUnderpay), s.Pay(id, OutcomeFull))
		}, []string{"IA", "AC", "CO"}},
		{"select currency then cancel", redirect, func(s *Server, _ *fakeClock, id string) error {
			return errors.Join(s.SelectCurrency(id, "ETH"), s.Pay(id, OutcomeCancel))
		}, []string{"PE", "CA"}},
		{"lazy expiry on read", onchain, func(s *Server, clk *fakeClock, id string) error {
			clk.Advance(time.Hour)
			_, err := s.Order(id)
			return err
		}, []string{"EX"}},
		{"expire outcome", redirect, func(s *Server, _ *fakeClock, id string) error { return s.Pay(id, OutcomeExpire) }, []string{"EX"}},
		{"SetStatus", onchain, func(s *Server, _ *fakeClock, id string) error {
			return errors.Join(s.SetStatus(id, StatusAwaitingCompletion), s.SetStatus(id, StatusFailed))
		}, []string{"AC", "FA"}},
		{"failed transition sends nothing", onchain, func(s *Server, _ *fakeClock, id string) error {
			if err := s.SetStatus(id, StatusNotReady); !errors.Is(err, ErrInvalidTransition) {
				return err
			}
			return nil
		}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newHookReceiver(t)
			clk := newClock()
			s := newHookServer(t, clk, rcv.srv.URL+"/hook", hookTuning{})
			id := mustCreate(t, s, tc.create)
			if err := tc.act(s, clk, id); err != nil {
				t.Fatal(err)
			}
			got := rcv.wait(len(tc.want))
			time.Sleep(30 * time.Millisecond) // nothing more may arrive
			got = rcv.hooks()
			if diff := cmp.Diff(tc.want, statusesOf(got)); diff != "" {
				t.Fatalf("webhook statuses (-want +got):\n%s", diff)
			}
			inf, err := s.Order(id)
			if err != nil {
				t.Fatal(err)
			}
			base := clk.Now().Unix()
			for i, h := range got {
				if !h.Valid {
					t.Errorf("webhook %d: signature %s does not verify", i, h.Signature)
				}
				if h.ContentType != "application/json" {
					t.Errorf("webhook %d: Content-Type %q", i, h.ContentType)
				}
				// The clock does not move, so nonces count up from it.
				if want := strconv.FormatInt(base+int64(i), 10); h.Nonce != want {
					t.Errorf("webhook %d: nonce %s, want %s", i, h.Nonce, want)
				}
				if h.Payload["identifier"] != id {
					t.Errorf("webhook %d: identifier %v", i, h.Payload["identifier"])
				}
				keys := jsonKeys(t, h.Body)
				if diff := cmp.Diff([]string{"fiat_amount", "status", "crypto_amount", "unconfirmed_amount", "confirmed_amount", "currency", "identifier"}, keys); diff != "" {
					t.Errorf("webhook %d keys (-want +got):\n%s", i, diff)
				}
				if !bytes.Contains(h.Body, []byte(`", "`)) || !bytes.Contains(h.Body, []byte(`": `)) {
					t.Errorf("webhook %d not in Python's default layout: %s", i, h.Body)
				}
			}
			if n := len(got); n > 0 {
				last, _ := WebhookBody(inf)
				if !bytes.Equal(got[n-1].Body, last) {
					t.Errorf("last webhook %s\nwant %s", got[n-1].Body, last)
				}
			}
			if n := len(waitDeliveries(t, s, len(tc.want))); n != len(tc.want) {
				t.Errorf("%d deliveries logged, want %d", n, len(tc.want))
			}
		})
	}
}

func jsonKeys(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestWebhookPayloadValues(t *testing.T) {
	rcv := newHookReceiver(t)
	s := newHookServer(t, newClock(), rcv.srv.URL, hookTuning{})
	id := mustCreate(t, s, `{"expected_output_amount":"100","fiat":"EUR","input_currency":"DASH"}`)
	if err := s.Pay(id, OutcomeUnderpay); err != nil {
		t.Fatal(err)
	}
	got := rcv.wait(1)
	// 100 EUR at 30 EUR/DASH = 3.33333333; half of it arrives unconfirmed.
	want := `{"fiat_amount": 100.0, "status": "IA", "crypto_amount": 3.33333333, "unconfirmed_amount": 1.66666666, "confirmed_amount": 0.0, "currency": "DASH", "identifier": "` + id + `"}`
	if string(got[0].Body) != want {
		t.Errorf("body\n got %s\nwant %s", got[0].Body, want)
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Run("5xx then 200", func(t *testing.T) {
		rcv := newHookReceiver(t, 500, 503)
		s := newHookServer(t, newClock(), rcv.srv.URL, fastRetries)
		id := mustCreate(t, s, `{"expected_output_amount":"10","input_currency":"LTC"}`)
		if err := s.SetStatus(id, StatusCancelled); err != nil {
			t.Fatal(err)
		}
		got := rcv.wait(3)
		seen := map[string]bool{}
		for i, h := range got {
			if !h.Valid || !bytes.Equal(h.Body, got[0].Body) {
				t.Errorf("attempt %d: valid=%v body %s", i+1, h.Valid, h.Body)
			}
			if seen[h.Nonce] || seen[h.Signature] {
				t.Errorf("attempt %d reuses nonce %s or signature", i+1, h.Nonce)
			}
			seen[h.Nonce], seen[h.Signature] = true, true
		}
		d := waitDeliveries(t, s, 3)
		var results []string
		for _, e := range d {
			results = append(results, e.Result+":"+strconv.Itoa(e.HTTPStatus))
			if e.Identifier != id || e.Status != "CA" || e.Nonce == "" {
				t.Errorf("log entry %+v", e)
			}
		}
		if diff := cmp.Diff([]string{"retry:500", "retry:503", "ok:200"}, results); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
		if st := s.WebhookStats(); st.Attempts != 3 || st.Delivered != 1 || st.Failed != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		rcv := newHookReceiver(t, 401)
		s := newHookServer(t, newClock(), rcv.srv.URL, fastRetries)
		id := mustCreate(t, s, `{"expected_output_amount":"10","input_currency":"LTC"}`)
		if err := s.SetStatus(id, StatusCancelled); err != nil {
			t.Fatal(err)
		}
		d := waitDeliveries(t, s, 1)
		time.Sleep(100 * time.Millisecond)
		if n := len(rcv.hooks()); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
		if d[0].Result != DeliveryRejected || d[0].HTTPStatus != 401 {
			t.Errorf("log %+v", d)
		}
	})
	t.Run("connection refused gives up after 4 attempts", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String() + "/hook"
		ln.Close()
		s := newHookServer(t, newClock(), url, fastRetries)
		id := mustCreate(t, s, `{"expected_output_amount":"10","input_currency":"LTC"}`)
		if err := s.SetStatus(id, StatusCancelled); err != nil {
			t.Fatal(err)
		}
		d := waitDeliveries(t, s, 4)
		for i, e := range d {
			want := DeliveryRetry
			if i == 3 {
				want = DeliveryFailed
			}
			if e.Result != want || e.Attempt != i+1 || e.Error == "" || e.HTTPStatus != 0 {
				t.Errorf("attempt %d: %+v", i+1, e)
			}
			if i > 0 && e.Nonce == d[i-1].Nonce {
				t.Errorf("attempt %d reuses nonce %s", i+1, e.Nonce)
			}
		}
		if st := s.WebhookStats(); st.Attempts != 4 || st.Failed != 1 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestWebhookNotConfigured(t *testing.T) {
	rcv := newHookReceiver(t)
	for _, o := range []Options{
		{},
		{NotificationURL: rcv.srv.URL},
		{DeviceSecret: testSecret},
	} {
		s := New(o)
		id := mustCreate(t, s, `{"expected_output_amount":"10"}`)
		if err := s.Pay(id, OutcomeFull); err != nil {
			t.Fatal(err)
		}
		if d := s.Deliveries(); len(d) != 0 {
			t.Errorf("%+v: deliveries %+v", o, d)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(30 * time.Millisecond)
	if n := len(rcv.hooks()); n != 0 {
		t.Errorf("%d webhooks sent without a configuration", n)
	}
}

func TestWebhookInvalidSecretIsLogged(t *testing.T) {
	rcv := newHookReceiver(t)
	s := New(Options{NotificationURL: rcv.srv.URL, DeviceSecret: "not-hex"})
	defer s.Close()
	id := mustCreate(t, s, `{"expected_output_amount":"10"}`)
	if err := s.Pay(id, OutcomeCancel); err != nil {
		t.Fatal(err)
	}
	d := s.Deliveries()
	if len(d) != 1 || d[0].Result != DeliveryFailed || !strings.Contains(d[0].Error, "64 hex") {
		t.Errorf("deliveries %+v", d)
	}
	if n := len(rcv.hooks()); n != 0 {
		t.Errorf("%d webhooks sent with an invalid secret", n)
	}
}

func TestWebhookQueueFullDoesNotBlock(t *testing.T) {
	rcv := newHookReceiver(t)
	release := make(chan struct{})
	rcv.release = release
	defer close(release) // before the receiver's cleanup, which waits for handlers
	s := New(Options{NotificationURL: rcv.srv.URL, DeviceSecret: testSecret, hookTuning: hookTuning{queueSize: 2}})
	defer s.Close()

	first := mustCreate(t, s, `{"expected_output_amount":"10","input_currency":"LTC"}`)
	if err := s.SetStatus(first, StatusCancelled); err != nil {
		t.Fatal(err)
	}
	<-rcv.arrived // the goroutine is now stuck in the first delivery
	start := time.Now()
	const orders = 10
	for range orders {
		id := mustCreate(t, s, `{"expected_output_amount":"10","input_currency":"LTC"}`)
		if err := s.Pay(id, OutcomeFull); err != nil { // PE → AC → CO: 2 changes
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("API calls took %v with a stuck receiver", el)
	}
	st := s.WebhookStats()
	if st.Queued != 2 || st.Dropped != 2*orders-2 {
		t.Errorf("stats %+v, want 2 queued and %d dropped", st, 2*orders-2)
	}
	dropped := 0
	for _, d := range s.Deliveries() {
		if d.Result == DeliveryDropped {
			dropped++
		}
	}
	if dropped != 2*orders-2 {
		t.Errorf("%d drops logged", dropped)
	}
}

func TestWebhookCloseStopsDelivery(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rcv := newHookReceiver(t)
	release := make(chan struct{})
	rcv.release = release
	s := New(Options{NotificationURL: rcv.srv.URL, DeviceSecret: testSecret})
	id := mustCreate(t, s, `{"expected_output_amount":"10"}`)
	if err := s.Pay(id, OutcomeFull); err != nil { // 3 changes
		t.Fatal(err)
	}
	<-rcv.arrived
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v with a delivery in flight", el)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	close(release)
	d := s.Deliveries()
	if len(d) != 1 || d[0].Result != DeliveryAborted {
		t.Errorf("deliveries after Close: %+v", d)
	}
	// The API still works; nothing more is sent.
	id2 := mustCreate(t, s, `{"expected_output_amount":"10"}`)
	if err := s.Pay(id2, OutcomeCancel); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if n := len(rcv.hooks()); n != 1 {
		t.Errorf("%d webhooks, want 1", n)
	}
	rcv.srv.Close()
}

func TestAdminWebhook(t *testing.T) {
	rcv := newHookReceiver(t)
	s := New(Options{})
	defer s.Close()

	rec := call(t, s, http.MethodGet, "/_sandbox/webhook", "", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"notification_url":""`) {
		t.Fatalf("GET: %d %s", rec.Code, rec.Body)
	}
	for _, bad := range []string{
		`{"device_secret":"abc"}`,
		`{"device_secret":"` + strings.Repeat("zz", 32) + `"}`,
		`{"notification_url":"ftp://x"}`,
		`{"notification_url":"/relative"}`,
		`{"other":1}`,
	} {
		if rec := call(t, s, http.MethodPut, "/_sandbox/webhook", "application/json", bad); rec.Code != 400 {
			t.Errorf("PUT %s: %d %s", bad, rec.Code, rec.Body)
		}
	}
	rec = call(t, s, http.MethodPut, "/_sandbox/webhook", "application/json", `{"notification_url":"`+rcv.srv.URL+`"}`)
	if rec.Code != 200 {
		t.Fatalf("PUT url: %d %s", rec.Code, rec.Body)
	}
	rec = call(t, s, http.MethodPut, "/_sandbox/webhook", "application/json", `{"device_secret":"`+testSecret+`"}`)
	if rec.Code != 200 {
		t.Fatalf("PUT secret: %d %s", rec.Code, rec.Body)
	}
	if got := s.WebhookConfig(); got != (WebhookConfig{NotificationURL: rcv.srv.URL, DeviceSecret: testSecret}) {
		t.Errorf("config %+v", got)
	}
	id := mustCreate(t, s, `{"expected_output_amount":"10"}`)
	if err := s.Pay(id, OutcomeCancel); err != nil {
		t.Fatal(err)
	}
	if h := rcv.wait(1); !h[0].Valid {
		t.Error("signature does not verify")
	}
	waitDeliveries(t, s, 1)
	rec = call(t, s, http.MethodGet, "/_sandbox/webhook/deliveries", "", "")
	var got struct {
		Deliveries []Delivery    `json:"deliveries"`
		Stats      *WebhookStats `json:"stats"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 {
		t.Fatalf("deliveries: %d %s", rec.Code, rec.Body)
	}
	if len(got.Deliveries) != 1 || got.Deliveries[0].Identifier != id || got.Deliveries[0].HTTPStatus != 200 || got.Stats == nil || got.Stats.Delivered != 1 {
		t.Errorf("deliveries %s", rec.Body)
	}
	// Disabling stops sending.
	if rec := call(t, s, http.MethodPut, "/_sandbox/webhook", "application/json", `{"notification_url":""}`); rec.Code != 200 {
		t.Fatalf("disable: %d", rec.Code)
	}
	id = mustCreate(t, s, `{"expected_output_amount":"10"}`)
	if err := s.Pay(id, OutcomeCancel); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Deliveries()); n != 1 {
		t.Errorf("%d deliveries after disabling", n)
	}
	// Loopback only; form posts refused.
	req := mustNewRequest(t, http.MethodGet, "/_sandbox/webhook", "")
	req.RemoteAddr = "192.0.2.1:1234"
	if rec := serve(s, req); rec.Code != 403 {
		t.Errorf("remote: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodPut, "/_sandbox/webhook", "application/x-www-form-urlencoded", "notification_url=x"); rec.Code != 415 {
		t.Errorf("form: %d", rec.Code)
	}
	if rec := call(t, s, http.MethodDelete, "/_sandbox/webhook", "", ""); rec.Code != 405 {
		t.Errorf("DELETE: %d", rec.Code)
	}
}
