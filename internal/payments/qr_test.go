package payments

import (
	"bytes"
	"context"
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

// A size too small for the logos degrades both concurrently drawn codes to
// plain ones, and the result says so.
func TestQRDegradedSizes(t *testing.T) {
	api := newStub()
	svc := New(api, store.NewMemory(), Options{})
	ctx := context.Background()
	oc, err := svc.CreateOnchain(ctx, OnchainInput{AmountEUR: 10, InputCurrency: "BTC"})
	if err != nil {
		t.Fatal(err)
	}
	api.info[oc.Identifier] = &bitnovo.OrderInfo{Identifier: oc.Identifier, Status: "PE"}
	res, err := svc.QR(ctx, QRInput{Identifier: oc.Identifier, Type: QRBoth, Size: qr.MinSize, Style: "branded", Branding: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Note != degradedNote || len(res.Images) != 2 {
		t.Fatalf("note %q, %d images; want the degraded note and 2 images", res.Note, len(res.Images))
	}
}
