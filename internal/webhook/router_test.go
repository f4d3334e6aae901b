package webhook

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

func TestRouterAttributesBySecret(t *testing.T) {
	keyA, keyB := []byte("secret-of-merchant-a-32-bytes-ok"), []byte("secret-of-merchant-b-32-bytes-ok")
	stA, stB := store.NewMemory(), store.NewMemory()
	newRC := func(k []byte, st store.Events) *Receiver {
		rc, err := New(Options{Key: k, Store: st})
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	rt, err := NewRouter(newRC(keyA, stA), newRC(keyB, stB))
	if err != nil {
		t.Fatal(err)
	}
	post := func(key []byte, id string) int {
		nonce := fmt.Sprint(time.Now().Unix())
		body := fmt.Sprintf(`{"identifier": %q, "status": "CO"}`, id)
		req := httptest.NewRequest("POST", DefaultPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Nonce", nonce)
		req.Header.Set("X-Signature", Sign(key, nonce, []byte(body)))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		return rec.Code
	}
	const idA, idB = "1040095a-737d-41a2-a2e1-d031d19ec8cd", "2040095a-737d-41a2-a2e1-d031d19ec8cd"
	if c := post(keyA, idA); c != 200 {
		t.Fatalf("A's delivery: %d", c)
	}
	if c := post(keyB, idB); c != 200 {
		t.Fatalf("B's delivery: %d", c)
	}
	if c := post([]byte("nobody's key, thirty-two bytes!!"), idA); c != http.StatusUnauthorized {
		t.Fatalf("unknown key: %d, want 401", c)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		st          store.Events
		mine, other string
	}{{stA, idA, idB}, {stB, idB, idA}} {
		if evs, _, _ := tc.st.ListEvents(ctx, store.EventQuery{Identifier: tc.mine}); len(evs) != 1 {
			t.Errorf("own event stored %d times", len(evs))
		}
		if evs, _, _ := tc.st.ListEvents(ctx, store.EventQuery{Identifier: tc.other}); len(evs) != 0 {
			t.Errorf("the other merchant's event leaked into this store")
		}
	}
	if _, err := NewRouter(newRC(keyA, stA), func() *Receiver {
		rc, _ := New(Options{AllowUnsigned: true, Store: stB})
		return rc
	}()); err == nil {
		t.Error("an unsigned receiver was accepted into a router")
	}
}

// TestRouterRateLimitsBeforeVerifying: a flood from one source is refused
// with 429 by the router itself, before any body is read or verified, also
// when it rotates X-Forwarded-For.
func TestRouterRateLimitsBeforeVerifying(t *testing.T) {
	newRC := func(k string) *Receiver {
		rc, err := New(Options{Key: []byte(k), Store: store.NewMemory(), RateLimit: RateLimit{PerSecond: 1, Burst: 2}})
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	rt, err := NewRouter(newRC("secret-of-merchant-a-32-bytes-ok"), newRC("secret-of-merchant-b-32-bytes-ok"))
	if err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	for i := range 6 {
		req := httptest.NewRequest("POST", DefaultPath, strings.NewReader(`{"identifier":"x","status":"CO"}`))
		// From loopback, with a new X-Forwarded-For each time: no proxy
		// is trusted, so all six come from one source.
		req.RemoteAddr = "127.0.0.1:1234"
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		req.Header.Set("X-Nonce", fmt.Sprint(time.Now().Unix()))
		req.Header.Set("X-Signature", strings.Repeat("0", 64))
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		codes[rec.Code]++
		if rec.Code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[http.StatusTooManyRequests] < 3 || codes[http.StatusUnauthorized] != 2 {
		t.Errorf("status counts %v, want 2 × 401 then 429s", codes)
	}
}
