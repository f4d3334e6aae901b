package payments_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"maps"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr/qrtest"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// The sizes of the decode matrix: both limits and sizes between. Up to
// allCombosUpTo every payment gets every style and mark combination; above
// it, where an image costs the decoders up to a second and differs from the
// smaller ones only in scale, each payment gets one combination per size,
// in turn, so that every combination is drawn at every size.
var matrixSizes = []int{qr.MinSize, 150, 200, 256, 333, qr.DefaultSize, 1000, qr.MaxSize}

const allCombosUpTo = qr.DefaultSize

// matrixStyles are the style and mark combinations.
var matrixStyles = []struct {
	style    qr.Style
	branding bool
}{{qr.StyleBasic, false}, {qr.StyleBranded, true}, {qr.StyleBranded, false}, {qr.StyleBasic, true}}

// matrixCode is one QR code the server emits.
type matrixCode struct {
	name string // currency/kind/size/style
	want string // the text it must decode to
	png  []byte
	px   int // module width
	n    int // modules per side
}

// matrixOrigin is the origin of the fake's web_url in the matrix: fixed, so
// that the checkout URLs in the codes are the same on every run (the
// fake's own port is not). Nothing listens there; the test fetches the
// checkout page from the fake itself.
const matrixOrigin = "http://127.0.0.1:9"

// emittedCodes creates an on-chain payment in every currency of the fake
// catalog and a payment link, and draws every code generate_payment_qr and
// the create tools emit for them: address, payment URI, web URL and gateway
// URL, at every matrix size, basic and branded, with and without the
// Bitnovo Pay mark; and fetches the sandbox checkout page's code.
func emittedCodes(t *testing.T) []matrixCode {
	t.Helper()
	ctx := context.Background()
	// The same payments on every run: the sandbox addresses derive from
	// the order ids, and a code that fails is then a code that fails
	// again, not a draw (docs/benchmarks-qr.md).
	seed := [32]byte{'c', 'r', 'y', 'p', 't', 'o', 'p', 'a', 'y', ' ', 'q', 'r', ' ', 'm', 'a', 't', 'r', 'i', 'x'}
	fake := httptest.NewServer(fakebitnovo.New(fakebitnovo.Options{Rand: mathrand.NewChaCha8(seed), PublicURL: matrixOrigin}))
	t.Cleanup(fake.Close)
	api, err := bitnovo.New(fake.URL, "3fa85f64-5717-4562-b3fc-2c963f66afa6", bitnovo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := payments.New(api, store.NewMemory(), payments.Options{Sandbox: true})

	var (
		codes   []matrixCode
		refused []string
	)
	add := func(name, want, dataURL string, img payments.Image) {
		t.Helper()
		if want == "" || dataURL == "" {
			t.Fatalf("%s: empty payload or code", name)
		}
		if dataURL != qr.DataURL(img.PNG) {
			t.Fatalf("%s: data URL and image differ", name)
		}
		src, err := png.Decode(bytes.NewReader(img.PNG))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n, px := qrtest.Modules(src)
		codes = append(codes, matrixCode{name: fmt.Sprintf("%s/n=%d/px=%d", name, n, px), want: want, png: img.PNG, px: px, n: n})
	}
	payment := 0
	all := func(id, label string, typ string, env string) {
		t.Helper()
		payment++
		for i, size := range matrixSizes {
			for j, ms := range matrixStyles {
				style, branding := ms.style, ms.branding
				if size > allCombosUpTo && j != (payment+i)%len(matrixStyles) {
					continue
				}
				res, err := svc.QR(ctx, payments.QRInput{Identifier: id, Type: typ, Size: size, Style: string(style), Branding: branding, GatewayEnvironment: env})
				if pe := (*payments.Error)(nil); errors.As(err, &pe) && pe.Code == payments.CodeInvalidArgument && pe.Details["field"] == "size" {
					// Too small to draw this payload with modules of at
					// least 2 px: the server says so instead of drawing
					// a code no scanner reads. Only the smallest sizes.
					if size >= 200 {
						t.Errorf("%s %s at %d px refused: %v", label, typ, size, err)
					}
					refused = append(refused, fmt.Sprintf("%s/%s/%d/%s/branding=%v", label, typ, size, style, branding))
					continue
				}
				if err != nil {
					t.Fatalf("%s %s %d %s: %v", label, typ, size, style, err)
				}
				name := fmt.Sprintf("%s/%d/%s/branding=%v", label, size, style, branding)
				byField := map[string]payments.Image{}
				for _, img := range res.Images {
					byField[img.Field] = img
				}
				switch typ {
				case payments.QRBoth:
					add(name+"/address", res.Address, res.QRAddress, byField["qr_address"])
					add(name+"/payment_uri", res.PaymentURI, res.QRPaymentURI, byField["qr_payment_uri"])
				case payments.QRGateway:
					add(name+"/gateway_url", res.GatewayURL, res.QRGatewayURL, byField["qr_gateway_url"])
				}
			}
		}
	}
	for _, c := range fakebitnovo.Currencies() {
		oc, err := svc.CreateOnchain(ctx, payments.OnchainInput{AmountEUR: 10, InputCurrency: c.Symbol, IncludeQR: true})
		if err != nil {
			t.Fatalf("%s: %v", c.Symbol, err)
		}
		// The codes create_payment_onchain returns itself.
		for _, img := range oc.Images {
			switch img.Field {
			case "qr_address":
				add(c.Symbol+"/create/address", oc.Address, oc.QRAddress, img)
			case "qr_payment_uri":
				add(c.Symbol+"/create/payment_uri", oc.PaymentURI, oc.QRPaymentURI, img)
			}
		}
		all(oc.Identifier, c.Symbol, payments.QRBoth, "")
		// The sandbox checkout page's code of the payment URI.
		gw, err := svc.QR(ctx, payments.QRInput{Identifier: oc.Identifier, Type: payments.QRGateway, Size: qr.MinSize, Style: string(qr.StyleBasic)})
		if err != nil {
			t.Fatalf("%s: %v", c.Symbol, err)
		}
		page := fetchPNG(t, fake.URL+strings.TrimPrefix(gw.GatewayURL, matrixOrigin)+"qr.png")
		add(c.Symbol+"/checkout/payment_uri", oc.PaymentURI, qr.DataURL(page), payments.Image{Field: "checkout", PNG: page})
	}
	link, err := svc.CreateLink(ctx, payments.LinkInput{AmountEUR: 10, IncludeQR: true})
	if err != nil {
		t.Fatal(err)
	}
	add("link/create/web_url", link.WebURL, link.QRWebURL, link.Images[0])
	all(link.Identifier, "link", payments.QRGateway, "")
	all(link.Identifier, "link-production", payments.QRGateway, "production")
	t.Logf("%d codes drawn; %d requests refused as too small for their payload: %s", len(codes), len(refused), strings.Join(refused, ", "))
	return codes
}

// TestEmittedCodesAreTheSameEveryRun: the matrix draws the same texts
// every time (seeded order ids, a fixed web_url origin), so a code that
// fails in CI fails again, and a pass is not a lucky draw. Two fakes in one
// process, on two ports, must give the same list.
func TestEmittedCodesAreTheSameEveryRun(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("renders the matrix twice; .ci/run runs it without -race")
	}
	texts := func() []string {
		var out []string
		for _, c := range emittedCodes(t) {
			out = append(out, c.name+" "+c.want)
		}
		return out
	}
	a, b := texts(), texts()
	if !slices.Equal(a, b) {
		for i := range min(len(a), len(b)) {
			if a[i] != b[i] {
				t.Fatalf("code %d differs between two draws:\n%s\n%s", i, a[i], b[i])
			}
		}
		t.Fatalf("%d codes, then %d", len(a), len(b))
	}
}

// fetchPNG GETs a PNG from the fake.
func fetchPNG(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET %s: %s %q, %v", u, resp.Status, resp.Header.Get("Content-Type"), err)
	}
	return b
}

// TestEveryEmittedQRDecodes is the decode matrix of docs/benchmarks-qr.md:
// every code the server emits must read back as exactly its text with ZBar,
// gozxing without TryHarder (plain and PureBarcode) and jsQR, as rendered,
// at half size and mildly blurred. One miss fails the test.
//
// The decoders are required when CRYPTOPAY_REQUIRE_QR_DECODERS is set (CI);
// otherwise a machine without zbarimg, node or jsQR's npm packages skips.
// It is skipped under the race detector, which slows the decoders tenfold
// and has nothing to find in them: .ci/run runs it without -race.
func TestEveryEmittedQRDecodes(t *testing.T) {
	if raceEnabled {
		t.Skip("the decode matrix runs without -race (.ci/run runs it so)")
	}
	jsqrDir, err := filepath.Abs(filepath.Join("..", "..", qrtest.JSQRDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(qrtest.ZBarAvailable(), qrtest.JSQRAvailable(jsqrDir)); err != nil {
		if os.Getenv(qrtest.RequireEnv) != "" {
			t.Fatalf("%v (%s is set: the decoders are required)", err, qrtest.RequireEnv)
		}
		t.Skipf("%v; install zbar-tools and run npm ci in %s, or set %s to make this a failure", err, qrtest.JSQRDir, qrtest.RequireEnv)
	}
	began := time.Now()
	codes := emittedCodes(t)
	rendered := time.Since(began)
	dir := t.TempDir()

	type file struct {
		code    int
		variant qrtest.Variant
	}
	var (
		mu       sync.Mutex
		files    = map[string]file{}
		failures []string
		misses   = map[string]int{} // decoder/variant -> failed decodes
		// halved codes beyond ZXing's sizing, not asked of gozxing
		zxingSkipped, zxingReadAnyway int
	)
	fail := func(decoder string, v qrtest.Variant, c matrixCode, got any, why any) {
		mu.Lock()
		defer mu.Unlock()
		misses[decoder+"/"+string(v)]++
		failures = append(failures, fmt.Sprintf("%s %s %s: got %q (%v), want %q", decoder, v, c.name, got, why, c.want))
	}
	// Write every variant and decode it with gozxing, on a worker per CPU.
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range jobs {
				c := codes[i]
				src, err := png.Decode(bytes.NewReader(c.png))
				if err != nil {
					t.Errorf("%s: png: %v", c.name, err)
					continue
				}
				for _, v := range qrtest.Required(c.px) {
					img := qrtest.Apply(src, v)
					got, err := qrtest.GoZXing(img, false)
					switch {
					case v == qrtest.Half && !qrtest.ZXingReadsHalf(c.n, c.px):
						// Beyond ZXing's sizing of a halved symbol
						// (ZXingReadsHalf): not required, but counted.
						// ZBar and jsQR must still read it.
						mu.Lock()
						zxingSkipped++
						if got == c.want {
							zxingReadAnyway++
						}
						mu.Unlock()
					case got != c.want:
						fail("gozxing", v, c, got, err)
					}
					// PureBarcode reads a computer-drawn image module by
					// module from its bounding box: the image as rendered,
					// with the Bitnovo Pay mark below the code cut off.
					if v == qrtest.Full {
						if got, err := qrtest.GoZXing(qrtest.WithoutBand(img), true); got != c.want {
							fail("gozxing-pure", v, c, got, err)
						}
					}
					path := filepath.Join(dir, fmt.Sprintf("%04d-%s.png", i, v))
					if v == qrtest.Full {
						err = os.WriteFile(path, c.png, 0o600)
					} else {
						err = qrtest.WritePNG(path, img)
					}
					if err != nil {
						t.Errorf("%s: %v", c.name, err)
						continue
					}
					mu.Lock()
					files[path] = file{i, v}
					mu.Unlock()
				}
			}
		})
	}
	for i := range codes {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	goDecoded := time.Since(began)

	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	// ZBar and jsQR each decode every file in one process, both at once.
	ctx := t.Context()
	external := []struct {
		name string
		run  func() (map[string]qrtest.Result, error)
		got  map[string]qrtest.Result
		err  error
	}{
		{name: "zbar", run: func() (map[string]qrtest.Result, error) { return qrtest.ZBar(ctx, paths, runtime.GOMAXPROCS(0)) }},
		{name: "jsqr", run: func() (map[string]qrtest.Result, error) {
			return qrtest.JSQR(ctx, jsqrDir, paths, runtime.GOMAXPROCS(0))
		}},
	}
	for i := range external {
		wg.Go(func() { external[i].got, external[i].err = external[i].run() })
	}
	wg.Wait()
	for _, dec := range external {
		if dec.err != nil {
			t.Fatalf("%s: %v", dec.name, dec.err)
		}
		for _, p := range paths {
			f, r := files[p], dec.got[p]
			if len(r.Texts) != 1 || r.Texts[0] != codes[f.code].want {
				fail(dec.name, f.variant, codes[f.code], r.Texts, r.Err)
			}
		}
	}

	perVariant := map[qrtest.Variant]int{}
	for _, f := range files {
		perVariant[f.variant]++
	}
	decodes := 3*len(paths) + perVariant[qrtest.Full] - zxingSkipped
	t.Logf("%d codes: %d images (%d full, %d half, %d blur), decoded by zbar, jsqr and gozxing (but %d halves beyond ZXing's sizing, of which it read %d anyway), the full ones also by gozxing-pure: %d decodes, %d failed (render %v, gozxing %v, zbar+jsqr %v)",
		len(codes), len(paths), perVariant[qrtest.Full], perVariant[qrtest.Half], perVariant[qrtest.Blur], zxingSkipped, zxingReadAnyway, decodes, len(failures),
		rendered.Round(time.Millisecond), (goDecoded - rendered).Round(time.Millisecond), time.Since(began.Add(goDecoded)).Round(time.Millisecond))
	if len(failures) > 0 {
		slices.Sort(failures)
		keys := slices.Sorted(maps.Keys(misses))
		var summary []string
		for _, k := range keys {
			summary = append(summary, fmt.Sprintf("%s %d", k, misses[k]))
		}
		t.Errorf("%d of %d decodes failed (%s):\n%s", len(failures), decodes, strings.Join(summary, ", "), strings.Join(failures[:min(len(failures), 100)], "\n"))
	}
}
