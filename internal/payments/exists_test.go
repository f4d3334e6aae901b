package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

func TestExists(t *testing.T) {
	ctx := context.Background()
	const known, stored, hooked, nobody = "10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002",
		"10000000-0000-4000-8000-000000000003", "10000000-0000-4000-8000-000000000004"
	api := newStub()
	api.setStatus(known, "PE")
	st := store.NewMemory()
	if err := st.SavePayment(ctx, store.Payment{Identifier: stored}); err != nil {
		t.Fatal(err)
	}
	s := New(api, st, Options{})
	for _, id := range []string{known, stored} {
		if err := s.Exists(ctx, id); err != nil {
			t.Errorf("Exists(%s) = %v", id, err)
		}
	}
	if err := s.Exists(ctx, nobody); AsError(err).Code != CodePaymentNotFound {
		t.Errorf("Exists(unknown) = %v, want %s", err, CodePaymentNotFound)
	}
	if err := s.Exists(ctx, "not-a-uuid"); AsError(err).Code != CodeInvalidArgument {
		t.Errorf("Exists(malformed) = %v", err)
	}

	// Bitnovo unreachable: a payment a verified webhook named exists; one
	// nobody named cannot be told.
	down := &downAPI{stubAPI: newStub()}
	s = New(down, store.NewMemory(), Options{})
	ev := store.NewMemory()
	sum := sha256.Sum256([]byte(`{}`))
	if _, err := ev.SaveEvent(ctx, store.Event{EventID: hooked + ":1", Identifier: hooked, Status: "PE", Nonce: "1", Validated: true,
		Payload: []byte(`{}`), BodyHash: hex.EncodeToString(sum[:]), ReceivedAt: time.Now()}, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.events = ev
	if err := s.Exists(ctx, hooked); err != nil {
		t.Errorf("Exists(named by a webhook, Bitnovo down) = %v", err)
	}
	if err := s.Exists(ctx, nobody); err == nil || AsError(err).Code == CodePaymentNotFound {
		t.Errorf("Exists(unknown, Bitnovo down) = %v, want an error other than not found", err)
	}
}

type downAPI struct{ *stubAPI }

func (downAPI) OrderInfo(context.Context, string) (*bitnovo.OrderInfo, error) {
	return nil, errors.New("connection refused")
}
