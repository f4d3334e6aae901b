package payments

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// The two codes of a create (and of qr_type both) are drawn concurrently;
// each field must still get its own code, in order, exactly as Render draws
// it, also when many calls run at once.
func TestQRCodesDrawnConcurrentlyLandInTheirFields(t *testing.T) {
	api := newStub()
	svc := New(api, store.NewMemory(), Options{})
	ctx := context.Background()
	check := func(t *testing.T, field, dataURL string, img Image, data string, o qr.Options) {
		t.Helper()
		want, err := qr.Render(data, o)
		if err != nil {
			t.Fatal(err)
		}
		if img.Field != field || !bytes.Equal(img.PNG, want) || dataURL != qr.DataURL(want) {
			t.Errorf("%s: image %q, PNG equal %v, data URL equal %v", field, img.Field, bytes.Equal(img.PNG, want), dataURL == qr.DataURL(want))
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			oc, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC", IncludeQR: true})
			if err != nil {
				t.Error(err)
				return
			}
			if len(oc.Images) != 2 {
				t.Errorf("%d images, want 2", len(oc.Images))
				return
			}
			o := qr.Options{Size: qr.DefaultSize, Style: qr.StyleBranded, Logo: "BTC", Branding: true}
			check(t, "qr_address", oc.QRAddress, oc.Images[0], oc.Address, o)
			check(t, "qr_payment_uri", oc.QRPaymentURI, oc.Images[1], oc.PaymentURI, o)

			api.mu.Lock()
			api.info[oc.Identifier] = &bitnovo.OrderInfo{Identifier: oc.Identifier, Status: "PE"}
			api.mu.Unlock()
			res, err := svc.QR(ctx, QRInput{Identifier: oc.Identifier, Type: QRBoth, Size: 300, Style: "basic"})
			if err != nil {
				t.Error(err)
				return
			}
			if len(res.Images) != 2 {
				t.Errorf("qr both: %d images, want 2", len(res.Images))
				return
			}
			o = qr.Options{Size: 300, Style: qr.StyleBasic}
			check(t, "qr_address", res.QRAddress, res.Images[0], oc.Address, o)
			check(t, "qr_payment_uri", res.QRPaymentURI, res.Images[1], oc.PaymentURI, o)
		})
	}
	wg.Wait()
}

// A size too small for a logo degrades the code to a plain one, and the
// result says so: 120 bytes need version 14 with a logo clear of the centre
// alignment pattern (81 modules with the quiet zone, under 2 px each in
// 150 px) but fit a plain version 7 (53 modules, 2 px each).
func TestQRDegradedSizes(t *testing.T) {
	api := newStub()
	st := store.NewMemory()
	svc := New(api, st, Options{})
	ctx := context.Background()
	oc, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.GetPayment(ctx, oc.Identifier)
	if err != nil {
		t.Fatal(err)
	}
	p.PaymentURI = "bitcoin:bc1qexample?amount=0.001&label=" + strings.Repeat("x", 120-len("bitcoin:bc1qexample?amount=0.001&label="))
	if err := st.SavePayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	api.info[oc.Identifier] = &bitnovo.OrderInfo{Identifier: oc.Identifier, Status: "PE"}
	res, err := svc.QR(ctx, QRInput{Identifier: oc.Identifier, Type: QRBoth, Size: 150, Style: "branded"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Note != degradedNote || len(res.Images) != 2 {
		t.Fatalf("note %q, %d images; want the degraded note and 2 images", res.Note, len(res.Images))
	}
	plain, err := qr.Render(p.PaymentURI, qr.Options{Size: 150, Style: qr.StyleBasic})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Images[1].PNG, plain) {
		t.Error("the payment URI's code is not the plain one")
	}
}

// A create's codes are started as soon as the provider answers (drawn while
// the payment is committed); a replay, which starts nothing, draws them
// after the lookup. Both give the same codes.
func TestCreateQRFreshAndReplayed(t *testing.T) {
	api := newStub()
	svc := New(api, store.NewMemory(), Options{})
	ctx := context.Background()
	o := qr.Options{Size: qr.DefaultSize, Style: qr.StyleBranded, Logo: "bitnovo", Branding: true}
	for i, wantReplay := range []bool{false, true} {
		link, err := svc.CreateLink(ctx, LinkInput{AmountEUR: 10, IncludeQR: true, IdempotencyKey: "link-qr"})
		if err != nil {
			t.Fatal(err)
		}
		if link.IdempotentReplay != wantReplay || len(link.Images) != 1 {
			t.Fatalf("call %d: replay %v, %d images", i, link.IdempotentReplay, len(link.Images))
		}
		want, err := qr.Render(link.WebURL, o)
		if err != nil {
			t.Fatal(err)
		}
		if link.Images[0].Field != "qr_web_url" || !bytes.Equal(link.Images[0].PNG, want) || link.QRWebURL != qr.DataURL(want) {
			t.Fatalf("call %d: the link's QR is not the code of its web_url", i)
		}
		oc, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC", IncludeQR: true, IdempotencyKey: "oc-qr"})
		if err != nil {
			t.Fatal(err)
		}
		if oc.IdempotentReplay != wantReplay || len(oc.Images) != 2 || oc.QRAddress == "" || oc.QRPaymentURI == "" {
			t.Fatalf("call %d: onchain replay %v, %d images", i, oc.IdempotentReplay, len(oc.Images))
		}
	}
	noQR, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC"})
	if err != nil || len(noQR.Images) != 0 || noQR.QRAddress != "" {
		t.Fatalf("include_qr false: %d images, %v", len(noQR.Images), err)
	}
}
