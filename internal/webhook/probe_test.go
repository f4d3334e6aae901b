package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

func TestProbe(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	st := store.NewMemory()
	rc, err := New(Options{Key: key, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	ctx := context.Background()
	if err := Probe(ctx, srv.Client(), srv.URL+"/webhook/bitnovo", key, time.Now()); err != nil {
		t.Fatalf("probe through the right receiver: %v", err)
	}
	if _, n, _ := st.ListEvents(ctx, store.EventQuery{}); n != 0 {
		t.Fatalf("a probe was stored: %d events", n)
	}
	if err := Probe(ctx, srv.Client(), srv.URL+"/webhook/bitnovo", []byte("another key"), time.Now()); err == nil {
		t.Fatal("a probe signed with another key passed")
	}
	if err := Probe(ctx, srv.Client(), srv.URL+"/elsewhere", key, time.Now()); err == nil {
		t.Fatal("a probe to the wrong path passed")
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"success":true}`))
	}))
	defer other.Close()
	if err := Probe(ctx, other.Client(), other.URL, key, time.Now()); err == nil || !strings.Contains(err.Error(), "another receiver") {
		t.Fatalf("a foreign 200 passed: %v", err)
	}
}
