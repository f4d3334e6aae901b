package payments

import (
	"context"
	"errors"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// Exists reports, as a nil error, that a payment exists: this server
// created it (it is in the store), Bitnovo knows it, or a verified webhook
// named it. A payment nobody knows is CodePaymentNotFound; any other error
// means existence could not be told (Bitnovo unreachable and no webhook).
// Resource subscriptions use it, so that a client cannot fill memory with
// subscriptions to payments that do not exist.
func (s *Service) Exists(ctx context.Context, id string) error {
	if err := checkIdentifier(id); err != nil {
		return err
	}
	_, err := s.store.GetPayment(ctx, id)
	if err == nil {
		return nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		s.log.Debug("payment lookup failed; asking Bitnovo", "identifier", id, "error", err)
	}
	if _, err := s.api.OrderInfo(ctx, id); err != nil {
		pe := mapAPIError(err, "status")
		if pe.Code != CodePaymentNotFound && s.lastWebhook(ctx, id) != nil {
			return nil
		}
		return pe
	}
	return nil
}
