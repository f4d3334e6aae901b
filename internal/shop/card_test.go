package shop

import (
	"context"
	"strings"
	"testing"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// TestPayInvoiceInCard: the card's quote pays nothing; a click pays once,
// only with the card's token and only at the amount it showed; another
// caller's click, a second click and a wrong amount pay nothing; every
// step is audited under the card tool with its caller.
func TestPayInvoiceInCard(t *testing.T) {
	e := newEnv(t, Options{PurchasesEnabled: true, Sandbox: true}, true)
	alice := access.WithCaller(context.Background(), access.Caller{Kind: access.KindOAuth, Subject: "alice", ClientID: "host"})
	c, err := e.svc.CreateInvoice(alice, nil, buyInput(10))
	if err != nil {
		t.Fatal(err)
	}
	q, err := e.svc.PayInvoiceInCard(alice, "card_pay_invoice", c.Invoice.ID, "", "")
	if err != nil || q.Paid || q.ConfirmationToken == "" || q.Quote.AmountEUR != c.AmountEUR {
		t.Fatalf("card quote: %+v %v", q, err)
	}
	payURL := "/v2/invoices/" + c.Invoice.ID + "/pay"
	if _, err := e.svc.PayInvoiceInCard(alice, "card_pay_invoice", c.Invoice.ID, q.ConfirmationToken, ""); code(t, err) != toolerr.CodeInvalidArgument {
		t.Fatalf("token without the shown amount: %v", err)
	}
	if _, err := e.svc.PayInvoiceInCard(alice, "card_pay_invoice", c.Invoice.ID, q.ConfirmationToken, "0.01"); code(t, err) != CodeConfirmationInvalid {
		t.Fatalf("wrong shown amount: %v", err)
	}
	mallory := access.WithCaller(context.Background(), access.Caller{Kind: access.KindOAuth, Subject: "mallory", ClientID: "host"})
	if _, err := e.svc.PayInvoiceInCard(mallory, "card_pay_invoice", c.Invoice.ID, q.ConfirmationToken, q.Quote.AmountEUR); code(t, err) != CodeConfirmationInvalid {
		t.Fatalf("another caller's click: %v", err)
	}
	if n := e.fake.Requests("POST", payURL); n != 0 {
		t.Fatalf("paid %d times before a valid click", n)
	}
	p, err := e.svc.PayInvoiceInCard(alice, "card_pay_invoice", c.Invoice.ID, q.ConfirmationToken, q.Quote.AmountEUR)
	if err != nil || !p.Paid {
		t.Fatalf("click: %+v %v", p, err)
	}
	if _, err := e.svc.PayInvoiceInCard(alice, "card_pay_invoice", c.Invoice.ID, q.ConfirmationToken, q.Quote.AmountEUR); err == nil {
		t.Fatal("a second click paid")
	}
	if n := e.fake.Requests("POST", payURL); n != 1 {
		t.Fatalf("Bitrefill was asked to pay %d times, want 1", n)
	}
	u, err := e.svc.UnsealOrderAs(alice, "card_reveal_order", p.Invoice.Orders[0].ID)
	if err != nil || u.Code == "" {
		t.Fatalf("reveal: %+v %v", u, err)
	}
	audit, _ := e.st.ListAudit(context.Background())
	var got []string
	for _, a := range audit[1:] {
		got = append(got, a.Tool+":"+a.Outcome+":"+strings.Fields(a.Caller)[1])
	}
	want := "card_pay_invoice:quoted:sub=alice card_pay_invoice:refused:sub=alice card_pay_invoice:refused:sub=alice card_pay_invoice:refused:sub=mallory " +
		"card_pay_invoice:paid:sub=alice card_pay_invoice:refused:sub=alice card_reveal_order:unsealed:sub=alice"
	if g := strings.Join(got, " "); g != want {
		t.Fatalf("audit:\n got %s\nwant %s", g, want)
	}
}
