package qr

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/qr/qrtest"
)

var update = flag.Bool("update", false, "rewrite docs/qr-example.png")

const (
	payAddress = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
	payBTCURI  = "bitcoin:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq?amount=0.00083333"
	payETHURI  = "ethereum:0x71C7656EC7ab88b098defB751B7401B5f6d8976F?value=830000000000000"
	payWebURL  = "https://paytest.bitnovo.com/ab12cd34/"
)

var testPayloads = []struct{ name, data string }{
	{"address", payAddress},
	{"btc-uri", payBTCURI},
	{"eth-uri", payETHURI},
	{"web-url", payWebURL},
}

// raster is a decoded PNG reduced to what the checks need.
type raster struct {
	w, h int
	cls  []uint8 // clsWhite, clsBlack or clsColour per pixel
	dark []bool  // luma < 50%
}

const (
	clsWhite = iota
	clsBlack
	clsColour // anything else: logo colours, anti-aliased text
)

func decodePNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("not a PNG: % x", b[:min(8, len(b))])
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("png.Decode: %v", err)
	}
	return img
}

// rasterOf classifies every pixel and fails on any non-opaque one.
func rasterOf(t testing.TB, img image.Image) raster {
	t.Helper()
	b := img.Bounds()
	r := raster{w: b.Dx(), h: b.Dy(), cls: make([]uint8, b.Dx()*b.Dy()), dark: make([]bool, b.Dx()*b.Dy())}
	classify := func(cr, cg, cb, ca uint32) (uint8, bool) {
		if ca != 0xffff {
			t.Fatalf("pixel with alpha %#x: the background must be opaque", ca)
		}
		luma := (299*cr + 587*cg + 114*cb) / 1000
		switch {
		case cr == 0xffff && cg == 0xffff && cb == 0xffff:
			return clsWhite, false
		case cr == 0 && cg == 0 && cb == 0:
			return clsBlack, true
		default:
			return clsColour, luma < 0x8000
		}
	}
	if p, ok := img.(*image.Paletted); ok {
		cls := make([]uint8, len(p.Palette))
		dark := make([]bool, len(p.Palette))
		for i, c := range p.Palette {
			cls[i], dark[i] = classify(c.RGBA())
		}
		for y := 0; y < r.h; y++ {
			for x := 0; x < r.w; x++ {
				i := p.Pix[y*p.Stride+x]
				r.cls[y*r.w+x], r.dark[y*r.w+x] = cls[i], dark[i]
			}
		}
		return r
	}
	for y := 0; y < r.h; y++ {
		for x := 0; x < r.w; x++ {
			r.cls[y*r.w+x], r.dark[y*r.w+x] = classify(img.At(b.Min.X+x, b.Min.Y+y).RGBA())
		}
	}
	return r
}

func (r raster) at(x, y int) uint8 { return r.cls[y*r.w+x] }

// geometry is what measureCode finds in an image.
type geometry struct {
	px   int             // module width
	n    int             // modules per side
	code image.Rectangle // modules only, quiet zone excluded
}

// measureCode locates the symbol from its finder patterns alone: the first
// row holding dark pixels is the top edge of the two upper finders, whose
// outer edges give the symbol's width, and a finder is 7 modules wide.
func measureCode(t testing.TB, r raster) geometry {
	t.Helper()
	y0 := -1
	for y := 0; y < r.h && y0 < 0; y++ {
		for x := 0; x < r.w; x++ {
			if r.dark[y*r.w+x] {
				y0 = y
				break
			}
		}
	}
	if y0 < 0 {
		t.Fatal("no dark pixels")
	}
	x0, x1 := -1, -1
	for x := 0; x < r.w; x++ {
		if r.dark[y0*r.w+x] {
			if x0 < 0 {
				x0 = x
			}
			x1 = x
		}
	}
	run := 0
	for x := x0; x < r.w && r.at(x, y0) == clsBlack; x++ {
		run++
	}
	if run%7 != 0 {
		t.Fatalf("finder top edge is %d px, not a multiple of 7 modules", run)
	}
	px := run / 7
	width := x1 - x0 + 1
	if width%px != 0 {
		t.Fatalf("symbol width %d px is not a whole number of %d px modules", width, px)
	}
	n := width / px
	if n < 21 || n > 177 || (n-17)%4 != 0 {
		t.Fatalf("symbol is %d modules wide, not a QR version", n)
	}
	if y0+width > r.h {
		t.Fatalf("symbol at y=%d, %d px high, overflows the image", y0, width)
	}
	return geometry{px: px, n: n, code: image.Rect(x0, y0, x1+1, y0+width)}
}

// checkImage runs every structural check on a rendered image and returns its
// geometry.
func checkImage(t testing.TB, b []byte, data string, o Options) geometry {
	t.Helper()
	img := decodePNG(t, b)
	if got := img.Bounds(); got.Dx() != o.Size || got.Dy() != o.Size || got.Min != (image.Point{}) {
		t.Fatalf("bounds %v, want %dx%d", got, o.Size, o.Size)
	}
	r := rasterOf(t, img) // also fails on transparency
	g := measureCode(t, r)
	q := 4 * g.px // the standard quiet zone, independent of the implementation's constant

	// Quiet zone of at least 4 modules on all four sides, inside the image.
	if g.code.Min.X < q || g.code.Min.Y < q || r.w-g.code.Max.X < q || r.h-g.code.Max.Y < q {
		t.Fatalf("quiet zone too small: code %v in %dx%d with %d px modules (need %d px)", g.code, r.w, r.h, g.px, q)
	}
	// Centred horizontally (to the pixel).
	if l, rr := g.code.Min.X, r.w-g.code.Max.X; l-rr > 1 || rr-l > 1 {
		t.Errorf("code not centred: %d px left, %d px right", l, rr)
	}
	// Everything outside the symbol is white, except the branding band,
	// which starts below the bottom quiet zone.
	bandTop := g.code.Max.Y + q
	textPx := 0
	for y := 0; y < r.h; y++ {
		for x := 0; x < r.w; x++ {
			if image.Pt(x, y).In(g.code) || r.at(x, y) == clsWhite {
				continue
			}
			if y < bandTop || !o.Branding {
				t.Fatalf("non-white pixel at (%d,%d) outside the symbol %v (quiet zone %d px)", x, y, g.code, q)
			}
			textPx++ // the wordmark's grey ink (never black: qr.go, wordmarkInk)
			if r.cls[y*r.w+x] == clsBlack {
				t.Fatalf("black pixel at (%d,%d) in the branding band: the wordmark is grey", x, y)
			}
		}
	}
	if o.Branding && textPx < 20 {
		t.Errorf("branding band has %d inked pixels, want visible text", textPx)
	}

	// Every module is a uniform px×px square of the expected colour, except
	// under the logo pad in the centre.
	want, err := encode([]byte(data), cmp.Or(o.Style, StyleBasic), fitVersion(o.Size, o.Style == StyleBranded, o.Branding))
	if err != nil {
		t.Fatal(err)
	}
	if want.size != g.n {
		t.Fatalf("measured %d modules, encoder gives %d", g.n, want.size)
	}
	bad := image.Rectangle{}
	for my := 0; my < g.n; my++ {
		for mx := 0; mx < g.n; mx++ {
			c0 := r.at(g.code.Min.X+mx*g.px, g.code.Min.Y+my*g.px)
			ok := c0 != clsColour && (c0 == clsBlack) == want.dark(mx, my)
			for y := 0; y < g.px && ok; y++ {
				for x := 0; x < g.px && ok; x++ {
					ok = r.at(g.code.Min.X+mx*g.px+x, g.code.Min.Y+my*g.px+y) == c0
				}
			}
			if !ok {
				bad = bad.Union(image.Rect(mx, my, mx+1, my+1))
			}
		}
	}

	// Logo pixels (neither black nor white) inside the symbol.
	logo := image.Rectangle{}
	for y := g.code.Min.Y; y < g.code.Max.Y; y++ {
		for x := g.code.Min.X; x < g.code.Max.X; x++ {
			if r.at(x, y) == clsColour {
				logo = logo.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	codeW := g.n * g.px
	if o.Style != StyleBranded {
		if !bad.Empty() {
			t.Fatalf("modules %v differ from the matrix or are not uniform %d px squares", bad, g.px)
		}
		if !logo.Empty() {
			t.Fatalf("basic code has non black/white pixels at %v", logo)
		}
		return g
	}
	if logo.Empty() {
		t.Fatal("branded code has no logo")
	}
	if logo.Dx()*100 > codeW*22 || logo.Dy()*100 > codeW*22 {
		t.Errorf("logo %dx%d px exceeds 22%% of the %d px code", logo.Dx(), logo.Dy(), codeW)
	}
	c := g.code.Min.Add(g.code.Max).Div(2)
	if lc := logo.Min.Add(logo.Max).Div(2); abs(lc.X-c.X) > g.px || abs(lc.Y-c.Y) > g.px {
		t.Errorf("logo centred at %v, code centre %v", lc, c)
	}
	// Modules hidden by the pad: a centred square of at most 27% of the width.
	maxPad := g.n * 27 / 100
	if maxPad%2 == 0 {
		maxPad-- // an odd square centred on the centre module
	}
	s := (g.n - maxPad) / 2
	centre := image.Rect(s, s, s+maxPad, s+maxPad)
	if !bad.In(centre) {
		t.Errorf("modules %v differ from the matrix outside the centre %v", bad, centre)
	}
	return g
}

// decodeQR decodes a rendered code as a phone scanner does: gozxing
// without TryHarder, and it must read the same with PureBarcode.
func decodeQR(t testing.TB, b []byte) (string, error) {
	t.Helper()
	img := decodePNG(t, b)
	got, err := qrtest.GoZXing(img, false)
	if err != nil {
		return "", err
	}
	if pure, err := qrtest.GoZXing(qrtest.WithoutBand(img), true); pure != got {
		return "", fmt.Errorf("PureBarcode read %q (%v), plain %q", pure, err, got)
	}
	return got, nil
}

// TestRenderDecodes renders the full table and decodes every image back.
func TestRenderDecodes(t *testing.T) {
	t.Parallel()
	sizes := []int{100, 333, 512, 2000}
	for _, size := range sizes {
		for _, style := range []Style{StyleBasic, StyleBranded} {
			for _, branding := range []bool{false, true} {
				for _, p := range testPayloads {
					o := Options{Size: size, Style: style, Logo: "BTC_TEST", Branding: branding}
					name := fmt.Sprintf("%d/%s/branding=%v/%s", size, style, branding, p.name)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						b, err := Render(p.data, o)
						if err != nil {
							t.Fatalf("Render: %v", err)
						}
						g := checkImage(t, b, p.data, o)
						got, err := decodeQR(t, b)
						if err != nil {
							t.Fatalf("decode (%d modules of %d px): %v", g.n, g.px, err)
						}
						if got != p.data {
							t.Fatalf("decoded %q, want %q", got, p.data)
						}
					})
				}
			}
		}
	}
}

// TestBrandingBand checks that the text mark appears only when asked, below
// the bottom quiet zone, and that it shrinks the code rather than overlap.
func TestBrandingBand(t *testing.T) {
	t.Parallel()
	for _, size := range []int{100, 512, 2000} {
		for _, style := range []Style{StyleBasic, StyleBranded} {
			t.Run(fmt.Sprintf("%d/%s", size, style), func(t *testing.T) {
				t.Parallel()
				plain, err := Render(payWebURL, Options{Size: size, Style: style})
				if err != nil {
					t.Fatal(err)
				}
				branded, err := Render(payWebURL, Options{Size: size, Style: style, Branding: true})
				if err != nil {
					t.Fatal(err)
				}
				// checkImage fails on any dark pixel outside the symbol when
				// Branding is false, and demands text below the quiet zone when true.
				gp := checkImage(t, plain, payWebURL, Options{Size: size, Style: style})
				gb := checkImage(t, branded, payWebURL, Options{Size: size, Style: style, Branding: true})
				if gb.px > gp.px {
					t.Errorf("branding grew the modules: %d -> %d px", gp.px, gb.px)
				}
				// The text is centred horizontally in the band.
				r := rasterOf(t, decodePNG(t, branded))
				text := image.Rectangle{}
				for y := gb.code.Max.Y + 4*gb.px; y < r.h; y++ {
					for x := 0; x < r.w; x++ {
						if r.at(x, y) != clsWhite {
							text = text.Union(image.Rect(x, y, x+1, y+1))
						}
					}
				}
				if l, rr := text.Min.X, r.w-text.Max.X; abs(l-rr) > 2+r.w/100 {
					t.Errorf("text %v not centred in %d px", text, r.w)
				}
				if text.Dx() < size/5 {
					t.Errorf("text only %d px wide in a %d px image", text.Dx(), size)
				}
			})
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	ok := Options{Size: DefaultSize, Style: StyleBranded, Logo: "ETH"}
	cases := []struct {
		name string
		data string
		o    Options
		want error
	}{
		{"size 99", payWebURL, Options{Size: 99}, ErrInvalidSize},
		{"size 2001", payWebURL, Options{Size: 2001}, ErrInvalidSize},
		{"size 0", payWebURL, Options{}, ErrInvalidSize},
		{"size -512", payWebURL, Options{Size: -512}, ErrInvalidSize},
		{"5000 chars", strings.Repeat("x", 5000), ok, ErrDataTooLong},
		{"5000 chars basic", strings.Repeat("x", 5000), Options{Size: 2000}, ErrDataTooLong},
		{"branded over its capacity", strings.Repeat("x", brandedCapacity()+1), Options{Size: MaxSize, Style: StyleBranded}, ErrDataTooLong},
		// 120 bytes need a version-7 basic code: 53 modules with the quiet
		// zone, under 2 px each in 100 px.
		{"1 px modules", strings.Repeat("x", 120), Options{Size: 100}, ErrInvalidSize},
		{"fits but not at 100 px", strings.Repeat("x", 1000), Options{Size: 100}, ErrInvalidSize},
		{"empty", "", ok, ErrEmptyData},
		{"bad style", payWebURL, Options{Size: 512, Style: "fancy"}, ErrInvalidStyle},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := Render(c.data, c.o)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if b != nil {
				t.Errorf("got %d bytes with an error", len(b))
			}
			if len(err.Error()) > 300 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
		})
	}
	// Limits are inclusive.
	for _, size := range []int{MinSize, MaxSize} {
		if _, err := Render(payWebURL, Options{Size: size}); err != nil {
			t.Errorf("size %d: %v", size, err)
		}
	}
	// The largest branded payload still renders at 2000 px.
	if _, err := Render(strings.Repeat("x", brandedCapacity()), Options{Size: MaxSize, Style: StyleBranded}); err != nil {
		t.Errorf("%d bytes branded at 2000 px: %v", brandedCapacity(), err)
	}
}

func TestRenderDeterministic(t *testing.T) {
	t.Parallel()
	o := Options{Size: 333, Style: StyleBranded, Logo: "USDC_ERC20", Branding: true}
	a, err := Render(payETHURI, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(payETHURI, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two renders differ")
	}
}

func TestLogoFor(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":              "bitnovo",
		"bitnovo":       "bitnovo",
		"BITNOVO":       "bitnovo",
		"BTC":           "BTC",
		"btc":           "BTC",
		" eth ":         "ETH",
		"BTC_TEST":      "BTC",
		"ETH_TEST":      "ETH",
		"USDC_ERC20":    "USDC",
		"USDC_ETH_TEST": "USDC",
		"USDT_TRC20":    "USDT",
		"USDT_BSC":      "USDT",
		"USDC_POLYGON":  "USDC",
		"USDC_ETH":      "USDC",
		"LTC":           "LTC",
		"BCH":           "BCH",
		"XRP":           "XRP",
		"XLM":           "XLM",
		"ALGO":          "ALGO",
		"DASH":          "DASH",
		"MATIC":         "POL",
		"NOPE":          "bitnovo",
		"NOPE_TEST":     "bitnovo",
		"_TEST":         "bitnovo",
	}
	for in, want := range cases {
		if got := LogoFor(in); got != want {
			t.Errorf("LogoFor(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEveryLogo renders each embedded logo, checks it is small, decodes the
// code, and checks that logos differ from each other.
func TestEveryLogo(t *testing.T) {
	t.Parallel()
	names := Logos()
	for _, need := range []string{"bitnovo", "BTC", "ETH", "LTC", "BCH", "XRP", "XLM", "ALGO", "USDC", "USDT", "DASH"} {
		if LogoFor(need) != need {
			t.Errorf("no embedded logo for %s", need)
		}
	}
	seen := map[string]string{}
	for _, name := range names {
		raw, err := logoFS.ReadFile("logos/" + name + ".png")
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) > 8<<10 {
			t.Errorf("%s.png is %d bytes, keep logos small", name, len(raw))
		}
		o := Options{Size: 512, Style: StyleBranded, Logo: name}
		b, err := Render(payBTCURI, o)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkImage(t, b, payBTCURI, o)
		if got, err := decodeQR(t, b); err != nil || got != payBTCURI {
			t.Errorf("%s: decoded %q, %v", name, got, err)
		}
		if other, dup := seen[string(b)]; dup {
			t.Errorf("logos %s and %s render identically", name, other)
		}
		seen[string(b)] = name
	}
	// An unknown symbol renders exactly like the Bitnovo logo.
	a, err := Render(payAddress, Options{Size: 300, Style: StyleBranded, Logo: "NOPE_TEST"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(payAddress, Options{Size: 300, Style: StyleBranded, Logo: "bitnovo"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("unknown symbol does not fall back to the bitnovo logo")
	}
}

func TestDataURL(t *testing.T) {
	t.Parallel()
	b, err := Render(payWebURL, Options{Size: 200})
	if err != nil {
		t.Fatal(err)
	}
	u := DataURL(b)
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(u, prefix) {
		t.Fatalf("DataURL = %.40q...", u)
	}
	raw, err := base64.StdEncoding.DecodeString(u[len(prefix):])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, b) {
		t.Error("DataURL does not round-trip")
	}
	if DataURL(nil) != prefix {
		t.Errorf("DataURL(nil) = %q", DataURL(nil))
	}
}

// TestWriteExample writes docs/qr-example.png with -update.
func TestWriteExample(t *testing.T) {
	b, err := Render(payBTCURI, Options{Size: 512, Style: StyleBranded, Logo: "BTC", Branding: true})
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, b, payBTCURI, Options{Size: 512, Style: StyleBranded, Logo: "BTC", Branding: true})
	if !*update {
		t.Skip("run with -update to rewrite docs/qr-example.png")
	}
	path := filepath.Join("..", "..", "docs", "qr-example.png")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(b))
}

func FuzzRender(f *testing.F) {
	for _, p := range testPayloads {
		f.Add(p.data, 512)
		f.Add(p.data, 100)
	}
	f.Add("", 512)
	f.Add("\xff\xfe invalid utf-8 \x00", 333)
	f.Add(strings.Repeat("Ω", 700), 2000)
	f.Add("x", -1)
	f.Add("x", 1<<40)
	f.Fuzz(func(t *testing.T, data string, size int) {
		// Fold any size into a plausible range so most inputs render.
		if size > 2*MaxSize || size < -10 {
			size = size%(2*MaxSize) + MinSize
		}
		o := Options{Size: size, Style: StyleBasic, Logo: data, Branding: len(data)%2 == 1}
		if size%2 == 0 {
			o.Style = StyleBranded
		}
		b, err := Render(data, o)
		if err != nil {
			if !errors.Is(err, ErrInvalidSize) && !errors.Is(err, ErrDataTooLong) && !errors.Is(err, ErrEmptyData) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		img := decodePNG(t, b)
		if img.Bounds().Dx() != size || img.Bounds().Dy() != size {
			t.Fatalf("bounds %v, want %d", img.Bounds(), size)
		}
	})
}
