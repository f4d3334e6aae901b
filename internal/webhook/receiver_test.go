package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testNow = time.Unix(1_750_000_000, 250_000_000)

type fixture struct {
	t        *testing.T
	rc       *Receiver
	st       store.Store
	clk      *clock
	key      []byte
	mu       sync.Mutex
	outcomes []string
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, st: store.NewMemory(), clk: &clock{t: testNow}, key: vectorKey(t)}
	t.Cleanup(func() { _ = f.st.Close() })
	opts := Options{Key: f.key, Store: f.st, Now: f.clk.Now, Observe: func(o string) {
		f.mu.Lock()
		f.outcomes = append(f.outcomes, o)
		f.mu.Unlock()
	}}
	if mutate != nil {
		mutate(&opts)
	}
	rc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.rc = rc
	return f
}

func (f *fixture) lastOutcome() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.outcomes) == 0 {
		return ""
	}
	return f.outcomes[len(f.outcomes)-1]
}

type answer struct {
	Success   bool   `json:"success"`
	EventID   string `json:"eventId"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
	ErrorCode string `json:"errorCode"`
	Timestamp string `json:"timestamp"`
}

func (f *fixture) do(req *http.Request) (*httptest.ResponseRecorder, answer) {
	f.t.Helper()
	w := httptest.NewRecorder()
	f.rc.ServeHTTP(w, req)
	var a answer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		f.t.Fatalf("%s %s: answer %d is not JSON: %q", req.Method, req.URL.Path, w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("content type %q", ct)
	}
	return w, a
}

func signedRequest(key []byte, nonce, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Nonce", nonce)
	r.Header.Set("X-Signature", Sign(key, nonce, []byte(body)))
	return r
}

func nonceAt(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func body(id, status string) string {
	return fmt.Sprintf(`{"identifier": %q, "status": %q, "fiat_amount": 10.5, "currency": "BTC"}`, id, status)
}

func TestBitnovoVectorThroughReceiver(t *testing.T) {
	vectorTime := time.Unix(1645634942, 0)
	// Freshness told to allow the old nonce: a clock near it.
	f := newFixture(t, func(o *Options) { o.Now = func() time.Time { return vectorTime.Add(3 * time.Second) } })
	r := httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(vectorBody))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-NONCE", vectorNonce)
	r.Header.Set("X-SIGNATURE", vectorSig)
	w, a := f.do(r)
	if w.Code != http.StatusOK || !a.Success || a.EventID != "1040095a-737d-41a2-a2e1-d031d19ec8cd:1645634942" {
		t.Fatalf("vector refused: %d %+v", w.Code, a)
	}
	events, _, _ := f.st.ListEvents(context.Background(), store.EventQuery{})
	if len(events) != 1 || string(events[0].Payload) != vectorBody || !events[0].Validated || events[0].Status != "AC" {
		t.Fatalf("stored %+v", events)
	}
	// The same request with the real clock: stale.
	real := newFixture(t, func(o *Options) { o.Now = nil })
	r = httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(vectorBody))
	r.Header.Set("X-Nonce", vectorNonce)
	r.Header.Set("X-Signature", vectorSig)
	if w, a := real.do(r); w.Code != http.StatusUnauthorized || a.ErrorCode != "STALE_NONCE" {
		t.Fatalf("old vector with the real clock: %d %+v", w.Code, a)
	}
}

func TestReceiverRefusals(t *testing.T) {
	key := vectorKey(t)
	now := nonceAt(testNow)
	good := body("pay-1", "PE")
	big := `{"identifier":"p","status":"PE","pad":"` + strings.Repeat("x", DefaultMaxBody) + `"}`
	tests := []struct {
		name    string
		req     func() *http.Request
		status  int
		code    string
		outcome string
	}{
		{"wrong method", func() *http.Request { return httptest.NewRequest(http.MethodGet, DefaultPath, nil) },
			405, "METHOD_NOT_ALLOWED", ""},
		{"text/plain", func() *http.Request {
			r := signedRequest(key, now, good)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, 415, "UNSUPPORTED_MEDIA_TYPE", OutcomeMediaType},
		{"form", func() *http.Request {
			r := signedRequest(key, now, good)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, 415, "UNSUPPORTED_MEDIA_TYPE", OutcomeMediaType},
		{"too large, with length", func() *http.Request { return signedRequest(key, now, big) },
			413, "PAYLOAD_TOO_LARGE", OutcomeTooLarge},
		{"too large, chunked", func() *http.Request {
			r := signedRequest(key, now, big)
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(big))
			return r
		}, 413, "PAYLOAD_TOO_LARGE", OutcomeTooLarge},
		{"no nonce", func() *http.Request {
			r := signedRequest(key, now, good)
			r.Header.Del("X-Nonce")
			return r
		}, 400, "MISSING_HEADERS", OutcomeMissingHeaders},
		{"no signature", func() *http.Request {
			r := signedRequest(key, now, good)
			r.Header.Del("X-Signature")
			return r
		}, 400, "MISSING_HEADERS", OutcomeMissingHeaders},
		{"nonce not decimal", func() *http.Request { return signedRequest(key, "17500000.5", good) },
			400, "INVALID_NONCE", OutcomeBadNonce},
		{"nonce in milliseconds is not a time we accept", func() *http.Request {
			return signedRequest(key, strconv.FormatInt(testNow.UnixMilli(), 10)+"000", good)
		},
			400, "INVALID_NONCE", OutcomeBadNonce},
		{"bad signature", func() *http.Request {
			r := signedRequest(key, now, good)
			r.Header.Set("X-Signature", Sign([]byte("another key entirely!"), now, []byte(good)))
			return r
		}, 401, "INVALID_SIGNATURE", OutcomeBadSignature},
		{"signature over re-serialised JSON", func() *http.Request {
			r := signedRequest(key, now, compactBody)
			r.Body = io.NopCloser(strings.NewReader(vectorBody))
			r.ContentLength = int64(len(vectorBody))
			return r
		}, 401, "INVALID_SIGNATURE", OutcomeBadSignature},
		{"stale nonce", func() *http.Request { return signedRequest(key, nonceAt(testNow.Add(-301*time.Second)), good) },
			401, "STALE_NONCE", OutcomeStale},
		{"nonce from the future", func() *http.Request { return signedRequest(key, nonceAt(testNow.Add(302*time.Second)), good) },
			401, "STALE_NONCE", OutcomeStale},
		{"signed array", func() *http.Request { return signedRequest(key, now, `[1,2]`) },
			400, "INVALID_PAYLOAD", OutcomeBadPayload},
		{"signed non-JSON", func() *http.Request { return signedRequest(key, now, `hello`) },
			400, "INVALID_PAYLOAD", OutcomeBadPayload},
		{"signed, no identifier", func() *http.Request { return signedRequest(key, now, `{"status":"PE"}`) },
			400, "INVALID_PAYLOAD", OutcomeBadPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			w, a := f.do(tt.req())
			if w.Code != tt.status || a.ErrorCode != tt.code || a.Success || a.Error == "" || a.Timestamp == "" {
				t.Fatalf("got %d %+v, want %d %s", w.Code, a, tt.status, tt.code)
			}
			if got := f.lastOutcome(); got != tt.outcome {
				t.Fatalf("outcome %q, want %q", got, tt.outcome)
			}
			if _, total, _ := f.st.ListEvents(context.Background(), store.EventQuery{}); total != 0 {
				t.Fatalf("a refused delivery was stored")
			}
		})
	}
}

func TestReceiverWindowEdges(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Window = 20 * time.Second })
	for i, tc := range []struct {
		offset time.Duration
		ok     bool
	}{{-20 * time.Second, true}, {20 * time.Second, true}, {-21 * time.Second, false}, {21 * time.Second, false}} {
		// The nonce is whole seconds; testNow has .25 s.
		n := testNow.Truncate(time.Second).Add(tc.offset)
		if tc.offset < 0 {
			n = n.Add(time.Second)
		}
		w, a := f.do(signedRequest(f.key, nonceAt(n), body(fmt.Sprint("edge", i), "PE")))
		if (w.Code == http.StatusOK) != tc.ok {
			t.Fatalf("offset %s: %d %+v", tc.offset, w.Code, a)
		}
	}
}

func TestReceiverAcceptsDuplicatesAndRefusesReplays(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	nonce := nonceAt(testNow)
	first := signedRequest(f.key, nonce, body("pay-1", "PE"))
	w, a := f.do(first)
	if w.Code != 200 || a.EventID != "pay-1:"+nonce || a.Duplicate || f.lastOutcome() != OutcomeAccepted {
		t.Fatalf("first: %d %+v", w.Code, a)
	}
	// Byte-identical re-send: replay.
	w, a = f.do(signedRequest(f.key, nonce, body("pay-1", "PE")))
	if w.Code != 401 || a.ErrorCode != "REPLAY_ATTACK" || f.lastOutcome() != OutcomeReplay {
		t.Fatalf("replay: %d %+v", w.Code, a)
	}
	// Another payment updated in the same second shares the nonce: accepted.
	w, a = f.do(signedRequest(f.key, nonce, body("pay-2", "AC")))
	if w.Code != 200 || a.EventID != "pay-2:"+nonce {
		t.Fatalf("same-second delivery of another payment: %d %+v", w.Code, a)
	}
	// The same body under a new nonce (Bitnovo re-sending): a duplicate,
	// acknowledged and stored once.
	f.clk.Add(2 * time.Second)
	w, a = f.do(signedRequest(f.key, nonceAt(f.clk.Now()), body("pay-1", "PE")))
	if w.Code != 200 || !a.Duplicate || a.EventID != "pay-1:"+nonce || f.lastOutcome() != OutcomeDuplicate {
		t.Fatalf("duplicate: %d %+v", w.Code, a)
	}
	if _, total, _ := f.st.ListEvents(ctx, store.EventQuery{}); total != 2 {
		t.Fatalf("stored %d, want 2", total)
	}
	// Upper-case and hex:-prefixed forms of a used signature are the same key.
	f.clk.Add(time.Second)
	n2 := nonceAt(f.clk.Now())
	b := body("pay-3", "CO")
	if w, _ := f.do(signedRequest(f.key, n2, b)); w.Code != 200 {
		t.Fatal(w.Code)
	}
	r := signedRequest(f.key, n2, b)
	r.Header.Set("X-Signature", "hex:"+strings.ToUpper(Sign(f.key, n2, []byte(b))))
	if w, a := f.do(r); w.Code != 401 || a.ErrorCode != "REPLAY_ATTACK" {
		t.Fatalf("re-cased replay: %d %+v", w.Code, a)
	}
}

func TestRefusedDeliveryDoesNotBurnTheNonce(t *testing.T) {
	f := newFixture(t, nil)
	nonce := nonceAt(testNow)
	good := body("pay-1", "PE")
	// Bad signature, then a payload that fails to parse, both with this nonce.
	r := signedRequest(f.key, nonce, good)
	r.Header.Set("X-Signature", strings.Repeat("0", 64))
	if w, _ := f.do(r); w.Code != 401 {
		t.Fatal(w.Code)
	}
	if w, _ := f.do(signedRequest(f.key, nonce, `{"status":"PE"}`)); w.Code != 400 {
		t.Fatal(w.Code)
	}
	// A store failure consumes nothing either.
	failing := newFixture(t, func(o *Options) { o.Store = failingStore{o.Store} })
	if w, a := failing.do(signedRequest(f.key, nonce, good)); w.Code != 503 || a.ErrorCode != "STORE_UNAVAILABLE" ||
		w.Header().Get("Retry-After") == "" || failing.lastOutcome() != OutcomeStoreError {
		t.Fatalf("store failure: %d %+v", w.Code, a)
	}
	if w, a := f.do(signedRequest(f.key, nonce, good)); w.Code != 200 {
		t.Fatalf("valid delivery after refusals: %d %+v", w.Code, a)
	}
}

type failingStore struct{ store.Events }

func (failingStore) SaveEvent(context.Context, store.Event, string, time.Time) (store.SaveResult, error) {
	return store.SaveResult{}, errors.New("disk on fire")
}

func TestReceiverStoresWhatItVerified(t *testing.T) {
	f := newFixture(t, nil)
	nonce := nonceAt(testNow)
	b := `{"identifier":"pay-9","status":"RF","crypto_amount":"0.00000001","currency":null}` + "\n"
	if w, a := f.do(signedRequest(f.key, nonce, b)); w.Code != 200 {
		t.Fatalf("%d %+v", w.Code, a)
	}
	e, err := f.st.LatestEvent(context.Background(), "pay-9")
	if err != nil {
		t.Fatal(err)
	}
	want := store.Event{EventID: "pay-9:" + nonce, Identifier: "pay-9", Status: "RF", Nonce: nonce, Validated: true,
		Payload: []byte(b), BodyHash: e.BodyHash, ReceivedAt: time.UnixMilli(testNow.UnixMilli())}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Fatalf("-want +got:\n%s", diff)
	}
}

func TestUnsignedMode(t *testing.T) {
	if _, err := New(Options{Store: store.NewMemory()}); err == nil ||
		!strings.Contains(err.Error(), "BITNOVO_DEVICE_SECRET") || !strings.Contains(err.Error(), "WEBHOOK_ALLOW_UNSIGNED=true") {
		t.Fatalf("New without a key: %v", err)
	}
	f := newFixture(t, func(o *Options) { o.Key = nil; o.AllowUnsigned = true })
	ctx := context.Background()

	// No headers at all: accepted, not validated.
	r := httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(body("u-1", "PE")))
	w, a := f.do(r)
	if w.Code != 200 || a.EventID != "u-1:" {
		t.Fatalf("bare unsigned: %d %+v", w.Code, a)
	}
	e, _, err := f.st.ListEvents(ctx, store.EventQuery{Identifier: "u-1"})
	if err != nil || len(e) != 1 || e[0].Validated {
		t.Fatalf("stored %+v %v", e, err)
	}
	if _, err := f.st.LatestEvent(ctx, "u-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("an unvalidated event counts as the latest validated one")
	}

	// Nonce and signature present (any signature: nothing is verified) give a
	// replay key, and the nonce must still be fresh.
	nonce := nonceAt(testNow)
	junkSig := strings.Repeat("ab", 32)
	send := func(n, sig, b string) (int, answer) {
		r := httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(b))
		r.Header.Set("X-Nonce", n)
		r.Header.Set("X-Signature", sig)
		w, a := f.do(r)
		return w.Code, a
	}
	if code, a := send(nonce, junkSig, body("u-2", "PE")); code != 200 {
		t.Fatalf("unsigned with headers: %d %+v", code, a)
	}
	if code, a := send(nonce, junkSig, body("u-2", "PE")); code != 401 || a.ErrorCode != "REPLAY_ATTACK" {
		t.Fatalf("unsigned replay: %d %+v", code, a)
	}
	if code, a := send(nonceAt(testNow.Add(-time.Hour)), junkSig, body("u-3", "PE")); code != 401 || a.ErrorCode != "STALE_NONCE" {
		t.Fatalf("unsigned stale: %d %+v", code, a)
	}
	if code, a := send("abc", junkSig, body("u-3", "PE")); code != 400 || a.ErrorCode != "INVALID_NONCE" {
		t.Fatalf("unsigned bad nonce: %d %+v", code, a)
	}
	// A malformed signature is no replay key; the body hash still dedupes.
	if code, a := send(nonce, "garbage", body("u-4", "PE")); code != 200 || a.Duplicate {
		t.Fatalf("unsigned, malformed signature: %d %+v", code, a)
	}
	if code, a := send(nonce, "garbage", body("u-4", "PE")); code != 200 || !a.Duplicate {
		t.Fatalf("unsigned re-send: %d %+v", code, a)
	}

	// With a key, AllowUnsigned changes nothing: signatures are required.
	strict := newFixture(t, func(o *Options) { o.AllowUnsigned = true })
	r = httptest.NewRequest(http.MethodPost, DefaultPath, strings.NewReader(body("u-5", "PE")))
	if w, a := strict.do(r); w.Code != 400 || a.ErrorCode != "MISSING_HEADERS" {
		t.Fatalf("key + AllowUnsigned, unsigned request: %d %+v", w.Code, a)
	}
}

func TestNewValidatesOptions(t *testing.T) {
	key := vectorKey(t)
	for _, o := range []Options{
		{Key: key}, // no store
		{Key: key, Store: store.NewMemory(), Path: "webhook"}, // no leading slash
		{Key: key, Store: store.NewMemory(), Path: "/health"},
		{Key: key, Store: store.NewMemory(), Path: "/stats"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	rc, err := New(Options{Key: key, Store: store.NewMemory(), Path: "/hooks/x"})
	if err != nil || rc.Path() != "/hooks/x" {
		t.Fatalf("custom path: %v", err)
	}
}

func TestHealthAndRouting(t *testing.T) {
	f := newFixture(t, nil)
	w := httptest.NewRecorder()
	f.rc.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/health", nil))
	if w.Code != 200 || w.Body.String() != "{\"status\":\"ok\"}\n" {
		t.Fatalf("health: %d %q", w.Code, w.Body.String())
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/", 404, "NOT_FOUND"},
		{http.MethodPost, "/webhook/bitnovo/", 404, "NOT_FOUND"},
		{http.MethodPost, "/webhook", 404, "NOT_FOUND"},
		{http.MethodPost, "/health", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodPost, "/stats", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodPut, DefaultPath, 405, "METHOD_NOT_ALLOWED"},
	} {
		w, a := f.do(httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status || a.ErrorCode != tc.code {
			t.Errorf("%s %s: %d %+v", tc.method, tc.path, w.Code, a)
		}
		if tc.status == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
	if n := len(f.outcomes); n != 0 {
		t.Fatalf("non-webhook requests were observed: %v", f.outcomes)
	}
}

func TestStatsOnlyForLocalCallers(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.StatsToken = "s3cret-token"; o.MaxEvents = 1000; o.EventTTL = time.Hour })
	if w, _ := f.do(signedRequest(f.key, nonceAt(testNow), body("pay-1", "PE"))); w.Code != 200 {
		t.Fatal(w.Code)
	}
	tests := []struct {
		name    string
		remote  string
		host    string
		headers map[string]string
		ok      bool
	}{
		{"loopback v4, localhost", "127.0.0.1:5000", "localhost:3000", nil, true},
		{"loopback v4, 127.0.0.1", "127.0.0.1:5000", "127.0.0.1:3000", nil, true},
		{"loopback v6", "[::1]:5000", "[::1]:3000", nil, true},
		{"loopback, no port in Host", "127.0.0.1:5000", "localhost", nil, true},
		{"tunnel: loopback peer, public Host", "127.0.0.1:5000", "abcd.ngrok-free.app", nil, false},
		{"loopback with X-Forwarded-For", "127.0.0.1:5000", "localhost:3000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, false},
		{"loopback with Forwarded", "127.0.0.1:5000", "localhost:3000", map[string]string{"Forwarded": "for=203.0.113.9"}, false},
		{"loopback with X-Real-IP", "127.0.0.1:5000", "localhost:3000", map[string]string{"X-Real-IP": "203.0.113.9"}, false},
		{"remote peer claiming localhost", "203.0.113.9:5000", "localhost:3000", nil, false},
		{"LAN peer", "192.168.1.20:5000", "192.168.1.2:3000", nil, false},
		{"remote with token", "203.0.113.9:5000", "hooks.example.com", map[string]string{"Authorization": "Bearer s3cret-token"}, true},
		{"tunnel with token", "127.0.0.1:5000", "abcd.ngrok-free.app", map[string]string{"Authorization": "Bearer s3cret-token", "X-Forwarded-For": "203.0.113.9"}, true},
		{"remote with wrong token", "203.0.113.9:5000", "hooks.example.com", map[string]string{"Authorization": "Bearer s3cret-tokeN"}, false},
		{"remote with basic auth", "203.0.113.9:5000", "hooks.example.com", map[string]string{"Authorization": "Basic s3cret-token"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/stats", nil)
			r.RemoteAddr, r.Host = tt.remote, tt.host
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			f.rc.ServeHTTP(w, r)
			if !tt.ok {
				if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), "totalEvents") {
					t.Fatalf("non-local stats: %d %s", w.Code, w.Body.String())
				}
				return
			}
			var got struct {
				EventStore map[string]any `json:"eventStore"`
				Handler    map[string]any `json:"handler"`
				Config     map[string]any `json:"config"`
			}
			if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &got) != nil {
				t.Fatalf("stats: %d %s", w.Code, w.Body.String())
			}
			if got.EventStore["totalEvents"] != 1.0 || got.EventStore["validatedCount"] != 1.0 || got.EventStore["newestEventAge"] != 0.0 ||
				got.Handler["hasDeviceSecret"] != true || got.Handler["noncesCached"] != 1.0 ||
				got.Config["maxEvents"] != 1000.0 || got.Config["eventTtlMs"] != 3600000.0 ||
				got.Config["path"] != DefaultPath || got.Config["windowSeconds"] != 300.0 {
				t.Fatalf("stats body: %s", w.Body.String())
			}
		})
	}
	// Without a configured token, no bearer value opens it.
	noToken := newFixture(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/stats", nil)
	r.RemoteAddr, r.Host = "203.0.113.9:5000", "hooks.example.com"
	r.Header.Set("Authorization", "Bearer ")
	if w, _ := noToken.do(r); w.Code != 404 {
		t.Fatalf("empty token opened stats: %d", w.Code)
	}
}

func TestSourceOf(t *testing.T) {
	tests := []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.9:1234", nil, "203.0.113.9"},
		{"203.0.113.9:1234", []string{"1.1.1.1"}, "203.0.113.9"}, // only a local proxy is believed
		{"127.0.0.1:1234", nil, "127.0.0.1"},
		{"127.0.0.1:1234", []string{"198.51.100.7"}, "198.51.100.7"},
		{"127.0.0.1:1234", []string{"10.0.0.1, 198.51.100.7"}, "198.51.100.7"},    // client-supplied first hop is ignored
		{"127.0.0.1:1234", []string{"10.0.0.1", "198.51.100.8 "}, "198.51.100.8"}, // last header, last hop
		{"[::1]:1234", []string{"2001:db8::1"}, "2001:db8::1"},
		{"127.0.0.1:1234", []string{"not-an-ip"}, "xff:not-an-ip"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := sourceOf(r); got != tt.want {
			t.Errorf("sourceOf(%s, %v) = %q, want %q", tt.remote, tt.xff, got, tt.want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RateLimit = RateLimit{PerSecond: 1, Burst: 2, MaxSources: 2} })
	send := func(remote, xff string, i int) *httptest.ResponseRecorder {
		r := signedRequest(f.key, nonceAt(f.clk.Now()), body(fmt.Sprintf("rl-%s-%s-%d-%d", remote, xff, i, f.clk.Now().UnixNano()), "PE"))
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		w, _ := f.do(r)
		return w
	}
	for i := range 2 {
		if w := send("203.0.113.1:1", "", i); w.Code != 200 {
			t.Fatalf("within burst: %d", w.Code)
		}
	}
	w := send("203.0.113.1:2", "", 3)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || f.lastOutcome() != OutcomeRateLimited {
		t.Fatalf("over the limit: %d Retry-After=%q", w.Code, w.Header().Get("Retry-After"))
	}
	var a answer
	_ = json.Unmarshal(w.Body.Bytes(), &a)
	if a.ErrorCode != "RATE_LIMITED" {
		t.Fatalf("error code %q", a.ErrorCode)
	}
	// Another source is not affected; neither is a tunnelled one.
	if w := send("203.0.113.2:1", "", 0); w.Code != 200 {
		t.Fatalf("other source: %d", w.Code)
	}
	if w := send("127.0.0.1:9", "198.51.100.1", 0); w.Code != 200 {
		t.Fatalf("tunnelled source: %d", w.Code)
	}
	if n := f.rc.limiter.len(); n > 2 {
		t.Fatalf("limiter holds %d sources, max 2", n)
	}
	// Tokens come back with time.
	f.clk.Add(time.Second)
	if w := send("203.0.113.1:3", "", 4); w.Code != 200 {
		t.Fatalf("after refill: %d", w.Code)
	}
}

func TestLimiterDefaultsAndDisabled(t *testing.T) {
	if newLimiter(RateLimit{Disabled: true}) != nil {
		t.Fatal("disabled limiter exists")
	}
	var none *limiter
	if ok, _ := none.allow("x", time.Now()); !ok {
		t.Fatal("nil limiter refused")
	}
	l := newLimiter(RateLimit{})
	now := time.Now()
	allowed := 0
	for range 100 {
		if ok, _ := l.allow("x", now); ok {
			allowed++
		}
	}
	if allowed != defaultBurst {
		t.Fatalf("default burst %d, want %d", allowed, defaultBurst)
	}
	ok, wait := l.allow("x", now)
	if ok || wait <= 0 || wait > time.Second/defaultPerSecond+time.Millisecond {
		t.Fatalf("wait %s", wait)
	}
}

func TestLogsKeepSecretsOut(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f := newFixture(t, func(o *Options) { o.Logger = logger })
	nonce := nonceAt(testNow)
	b := `{"identifier":"pay-log","status":"PE","notes":"customer-secret-note"}`
	good := signedRequest(f.key, nonce, b)
	sig := good.Header.Get("X-Signature")
	f.do(good)
	f.do(signedRequest(f.key, nonce, b)) // replay
	bad := signedRequest(f.key, nonce, b)
	bad.Header.Set("X-Signature", strings.Repeat("c", 64))
	f.do(bad)
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "pay-log") || !strings.Contains(out, OutcomeBadSignature) {
		t.Fatalf("expected useful log lines, got:\n%s", out)
	}
	for _, secret := range []string{vectorKeyHex, sig, strings.Repeat("c", 64), "customer-secret-note"} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestServerTimeouts(t *testing.T) {
	f := newFixture(t, nil)
	s := f.rc.Server("127.0.0.1:0")
	if s.ReadHeaderTimeout != 5*time.Second || s.ReadTimeout != 10*time.Second || s.WriteTimeout != 15*time.Second ||
		s.IdleTimeout != 60*time.Second || s.MaxHeaderBytes != 64<<10 || s.Handler != f.rc {
		t.Fatalf("server: %+v", s)
	}
}

func TestPrune(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxEvents = 2; o.EventTTL = time.Hour })
	for i := range 4 {
		if w, _ := f.do(signedRequest(f.key, nonceAt(f.clk.Now()), body(fmt.Sprint("pr-", i), "PE"))); w.Code != 200 {
			t.Fatal(w.Code)
		}
		f.clk.Add(time.Second)
	}
	if n, err := f.rc.Prune(context.Background()); err != nil || n != 2 {
		t.Fatalf("prune by count: %d %v", n, err)
	}
	f.clk.Add(2 * time.Hour)
	if n, err := f.rc.Prune(context.Background()); err != nil || n != 2 {
		t.Fatalf("prune by age: %d %v", n, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.rc.RunPruner(ctx, time.Millisecond); close(done) }()
	time.Sleep(5 * time.Millisecond)
	cancel()
	<-done
}

// The whole path over a real listener and a SQLite store, concurrently.
func TestReceiverOverHTTPWithSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir()+"/events.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := vectorKey(t)
	rc, err := New(Options{Key: key, Store: st, RateLimit: RateLimit{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 10 {
				b := body(fmt.Sprintf("http-%d-%d", g, i), "PE")
				n := nonceAt(time.Now())
				req, _ := http.NewRequest(http.MethodPost, srv.URL+DefaultPath, strings.NewReader(b))
				req.Header.Set("Content-Type", "application/json; charset=utf-8")
				req.Header.Set("X-Nonce", n)
				req.Header.Set("X-Signature", Sign(key, n, []byte(b)))
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if _, total, _ := st.ListEvents(ctx, store.EventQuery{}); total != 160 {
		t.Fatalf("stored %d, want 160", total)
	}
	srv.Client().CloseIdleConnections()
}

// TestReceiverRefusesWhenTheStoreFileIsGone: with the database removed or
// overwritten while the receiver runs, deliveries get 503 (Bitnovo
// retries) instead of a 200 for an event the next start would not see;
// on main the removed file went on taking 200s into the unlinked inode.
func TestReceiverRefusesWhenTheStoreFileIsGone(t *testing.T) {
	for _, fault := range []string{"removed", "overwritten"} {
		t.Run(fault, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "cryptopay.db")
			st, err := store.OpenSQLite(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			key := vectorKey(t)
			rc, err := New(Options{Key: key, Store: st, Now: func() time.Time { return testNow }, RateLimit: RateLimit{Disabled: true}})
			if err != nil {
				t.Fatal(err)
			}
			deliver := func(i int) int { // before the fault
				w := httptest.NewRecorder()
				rc.ServeHTTP(w, signedRequest(key, nonceAt(testNow), body(fmt.Sprintf("pay-%d", i), "CO")))
				return w.Code
			}
			for i := range 5 {
				if code := deliver(i); code != http.StatusOK {
					t.Fatalf("delivery %d before the fault: %d", i, code)
				}
			}
			switch fault {
			case "removed":
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			case "overwritten":
				f, err := os.OpenFile(path, os.O_WRONLY, 0) // same inode, junk bytes
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.WriteAt(bytes.Repeat([]byte{0xA5}, 8192), 0)
				_ = f.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			for i := 5; i < 25; i++ {
				w := httptest.NewRecorder()
				rc.ServeHTTP(w, signedRequest(key, nonceAt(testNow), body(fmt.Sprintf("pay-%d", i), "CO")))
				if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "STORE_UNAVAILABLE") || w.Header().Get("Retry-After") == "" {
					t.Fatalf("delivery %d after the file was %s: %d %s, want 503 STORE_UNAVAILABLE", i, fault, w.Code, w.Body)
				}
			}
		})
	}
}
