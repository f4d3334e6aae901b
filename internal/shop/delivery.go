package shop

import (
	"context"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Delivery poll intervals of WaitDelivery: from deliveryPollMin, doubling
// up to deliveryPollMax.
const (
	deliveryPollMin = 2 * time.Second
	deliveryPollMax = 30 * time.Second
)

// Delivered reports whether Bitrefill has finished with an invoice's
// orders: the invoice has left not_delivered (all_delivered, or a final
// partial or failed delivery), or every order has a delivery time.
func Delivered(inv Invoice) bool {
	if inv.Status != "" && inv.Status != "not_delivered" {
		return true
	}
	if len(inv.Orders) == 0 {
		return false
	}
	for _, o := range inv.Orders {
		if o.DeliveredTime == nil && o.Status != "delivered" {
			return false
		}
	}
	return true
}

// WaitDelivery reads the invoice until Delivered, and returns it then. It
// only reads: running it again (after a restart) is harmless. Failed reads
// are retried; an unknown invoice ends the wait with its error. progress,
// if set, hears about every read.
func (s *Service) WaitDelivery(ctx context.Context, id string, progress func(msg string)) (*Invoice, error) {
	poll := deliveryPollMin
	if s.o.DeliveryPoll > 0 {
		poll = s.o.DeliveryPoll
	}
	for {
		r, err := s.GetInvoice(ctx, id)
		switch {
		case err == nil && Delivered(r.Data):
			return &r.Data, nil
		case err == nil:
			if progress != nil {
				progress("invoice " + id + " is paid; waiting for Bitrefill to deliver (status " + r.Data.Status + ")")
			}
		case toolerr.From(err).Code == CodeInvoiceNotFound || ctx.Err() != nil:
			return nil, err
		default:
			if progress != nil {
				progress("reading invoice " + id + " failed, retrying: " + toolerr.From(err).Message)
			}
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		poll = min(poll*2, max(deliveryPollMax, poll)) // a DeliveryPoll above the cap stays as it is
	}
}
