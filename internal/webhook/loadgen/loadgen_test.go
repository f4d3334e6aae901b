package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunAgainstReceiver(t *testing.T) {
	st := store.NewMemory()
	defer st.Close()
	key := []byte("0123456789abcdef0123456789abcdef")
	rc, err := webhook.New(webhook.Options{Key: key, Store: st, RateLimit: webhook.RateLimit{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL + webhook.DefaultPath, Key: key, Concurrency: 8, Requests: 200, KeepAcked: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 200 || res.Status[http.StatusOK] != 200 || len(res.Acked) != 200 || res.P50 <= 0 || res.P99 < res.P50 || res.RPS <= 0 {
		t.Fatalf("result %+v", res)
	}
	if _, total, _ := st.ListEvents(context.Background(), store.EventQuery{}); total != 200 {
		t.Fatalf("stored %d", total)
	}
	// Re-sending an acknowledged delivery is a replay.
	status, a, err := Deliver(context.Background(), srv.Client(), srv.URL+webhook.DefaultPath, res.Acked[0])
	if err != nil || status != http.StatusUnauthorized || a.ErrorCode != "REPLAY_ATTACK" {
		t.Fatalf("re-send: %d %+v %v", status, a, err)
	}
	// Duration-bounded, unsigned against a signed receiver: all refused.
	res, err = Run(context.Background(), Config{URL: srv.URL + webhook.DefaultPath, Concurrency: 2, Duration: 50 * time.Millisecond})
	if err != nil || res.Sent == 0 || res.Status[http.StatusBadRequest] != res.Sent {
		t.Fatalf("unsigned run: %+v %v", res, err)
	}
	srv.Client().CloseIdleConnections()
}

func TestRunValidatesConfig(t *testing.T) {
	for _, c := range []Config{{}, {URL: "http://x"}} {
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("Run(%+v) accepted", c)
		}
	}
}
