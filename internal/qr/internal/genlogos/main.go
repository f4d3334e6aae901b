//go:build ignore

// Command genlogos draws the currency and brand logos and the "Bitnovo Pay"
// wordmark embedded by package qr.
//
// Each logo is a coloured disc (a rounded square for the Bitnovo Pay mark)
// carrying the ticker's letter or symbol, drawn on an opaque white square and
// quantised to a small palette so that the committed PNGs stay tiny and the
// renderer can map them onto its own palette cheaply.
//
// The wordmark is pre-rendered here, large, so that the renderer needs no
// font code: it only downscales the embedded image to its branding band,
// which is cheaper than rasterising glyphs on every call.
//
// The file carries an ignore build tag so that ordinary builds never compile
// it. Run it from internal/qr:
//
//	go run internal/genlogos/main.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/image/vector"
)

// side is the edge length of every generated logo in pixels. It is large
// enough that the renderer mostly downscales (the biggest logo it draws is
// about 400 px, at 2000 px output).
const side = 384

type spec struct {
	name   string
	bg     color.RGBA
	fg     color.RGBA
	glyph  string
	square bool // rounded square instead of a disc
}

func rgb(v uint32) color.RGBA {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

var white = color.RGBA{0xff, 0xff, 0xff, 0xff}

func specs() []spec {
	return []spec{
		{name: "bitnovo", bg: rgb(0x0066cc), fg: white, glyph: "B", square: true},
		{name: "BTC", bg: rgb(0xf7931a), fg: white, glyph: "₿"},
		{name: "ETH", bg: rgb(0x627eea), fg: white, glyph: "Ξ"},
		{name: "LTC", bg: rgb(0x345d9d), fg: white, glyph: "Ł"},
		{name: "BCH", bg: rgb(0x8dc351), fg: white, glyph: "B"},
		{name: "XRP", bg: rgb(0x23292f), fg: white, glyph: "X"},
		{name: "XLM", bg: rgb(0x08b5e5), fg: white, glyph: "S"},
		{name: "ALGO", bg: rgb(0x2b2b2b), fg: white, glyph: "A"},
		{name: "USDC", bg: rgb(0x2775ca), fg: white, glyph: "$"},
		{name: "USDT", bg: rgb(0x26a17b), fg: white, glyph: "₮"},
		{name: "DASH", bg: rgb(0x008ce7), fg: white, glyph: "D"},
		{name: "DOGE", bg: rgb(0xc2a633), fg: white, glyph: "Ð"},
		{name: "TRX", bg: rgb(0xeb0029), fg: white, glyph: "T"},
		{name: "BNB", bg: rgb(0xf3ba2f), fg: rgb(0x1e2026), glyph: "B"},
		{name: "SOL", bg: rgb(0x9945ff), fg: white, glyph: "S"},
		{name: "POL", bg: rgb(0x8247e5), fg: white, glyph: "P"},
		{name: "DAI", bg: rgb(0xf5ac37), fg: white, glyph: "D"},
		{name: "EURC", bg: rgb(0x2775ca), fg: white, glyph: "€"},
	}
}

func main() {
	out := flag.String("out", "logos", "output directory for the logos")
	wordmark := flag.String("wordmark", "wordmark.png", "output file for the wordmark")
	flag.Parse()
	fnt, err := opentype.Parse(gobold.TTF)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range specs() {
		glyph := s.glyph
		if !hasGlyphs(fnt, glyph) {
			log.Printf("%s: font lacks %q, falling back to the ticker's first letter", s.name, glyph)
			glyph = s.name[:1]
		}
		img, err := draw1(fnt, s, glyph)
		if err != nil {
			log.Fatalf("%s: %v", s.name, err)
		}
		var buf bytes.Buffer
		enc := png.Encoder{CompressionLevel: png.BestCompression}
		if err := enc.Encode(&buf, img); err != nil {
			log.Fatalf("%s: %v", s.name, err)
		}
		path := filepath.Join(*out, s.name+".png")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %d bytes\n", path, buf.Len())
	}
	if err := writeWordmark(fnt, *wordmark); err != nil {
		log.Fatal(err)
	}
}

// wordmarkText is the branding line drawn under the code.
const wordmarkText = "Bitnovo Pay"

// writeWordmark renders the branding text in black on white as an 8-bit
// grey image cropped to its ink plus a small margin. The renderer scales it
// down to the height of its branding band.
func writeWordmark(fnt *opentype.Font, path string) error {
	face, err := opentype.NewFace(fnt, &opentype.FaceOptions{Size: 160, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		return err
	}
	b, adv := font.BoundString(face, wordmarkText)
	const pad = 4
	w := max((b.Max.X-b.Min.X).Ceil(), adv.Ceil()) + 2*pad
	h := (b.Max.Y - b.Min.Y).Ceil() + 2*pad
	img := image.NewGray(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{
		Dst:  img,
		Src:  image.Black,
		Face: face,
		Dot:  fixed.Point26_6{X: fixed.I(pad) - b.Min.X, Y: fixed.I(pad) - b.Min.Y},
	}
	d.DrawString(wordmarkText)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s %dx%d %d bytes\n", path, w, h, buf.Len())
	return nil
}

func hasGlyphs(f *opentype.Font, s string) bool {
	var b sfnt.Buffer
	for _, r := range s {
		if i, err := f.GlyphIndex(&b, r); err != nil || i == 0 {
			return false
		}
	}
	return true
}

func draw1(fnt *opentype.Font, s spec, glyph string) (*image.Paletted, error) {
	rgba := image.NewRGBA(image.Rect(0, 0, side, side))
	draw.Draw(rgba, rgba.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)

	// Shape.
	z := vector.NewRasterizer(side, side)
	if s.square {
		roundRect(z, 0, 0, side, side, side*0.22)
	} else {
		circle(z, side/2, side/2, side/2)
	}
	z.Draw(rgba, rgba.Bounds(), image.NewUniform(s.bg), image.Point{})

	// Glyph: size it so its ink box fills about 56% of the logo's height,
	// then centre the ink box.
	face, err := opentype.NewFace(fnt, &opentype.FaceOptions{Size: side * 0.62, DPI: 72})
	if err != nil {
		return nil, err
	}
	b, _ := font.BoundString(face, glyph)
	h := (b.Max.Y - b.Min.Y).Ceil()
	w := (b.Max.X - b.Min.X).Ceil()
	limit := side * 56 / 100
	if h > limit || w > limit {
		scale := float64(limit) / float64(max(h, w))
		face, err = opentype.NewFace(fnt, &opentype.FaceOptions{Size: side * 0.62 * scale, DPI: 72})
		if err != nil {
			return nil, err
		}
		b, _ = font.BoundString(face, glyph)
	}
	cx := fixed.I(side) / 2
	dot := fixed.Point26_6{
		X: cx - (b.Min.X+b.Max.X)/2,
		Y: cx - (b.Min.Y+b.Max.Y)/2,
	}
	d := font.Drawer{Dst: rgba, Src: image.NewUniform(s.fg), Face: face, Dot: dot}
	d.DrawString(glyph)

	// Quantise: every pixel is a blend of white and bg (the shape's edge) or of
	// bg and fg (the glyph's edge), so 16 steps along each line suffice.
	var pal color.Palette
	seen := map[color.RGBA]bool{}
	add := func(c color.RGBA) {
		if !seen[c] {
			seen[c] = true
			pal = append(pal, c)
		}
	}
	add(white)
	const steps = 15
	for i := 1; i <= steps; i++ {
		add(mix(white, s.bg, i, steps))
	}
	for i := 1; i <= steps; i++ {
		add(mix(s.bg, s.fg, i, steps))
	}
	out := image.NewPaletted(rgba.Bounds(), pal)
	draw.Draw(out, out.Bounds(), rgba, image.Point{}, draw.Src)
	return out, nil
}

func mix(a, b color.RGBA, i, n int) color.RGBA {
	l := func(x, y uint8) uint8 { return uint8((int(x)*(n-i) + int(y)*i + n/2) / n) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 0xff}
}

// kappa approximates a quarter circle with a cubic Bézier curve.
const kappa = 0.5522847498

func circle(z *vector.Rasterizer, cx, cy, r float32) {
	k := r * kappa
	z.MoveTo(cx+r, cy)
	z.CubeTo(cx+r, cy+k, cx+k, cy+r, cx, cy+r)
	z.CubeTo(cx-k, cy+r, cx-r, cy+k, cx-r, cy)
	z.CubeTo(cx-r, cy-k, cx-k, cy-r, cx, cy-r)
	z.CubeTo(cx+k, cy-r, cx+r, cy-k, cx+r, cy)
	z.ClosePath()
}

func roundRect(z *vector.Rasterizer, x0, y0, x1, y1, r float32) {
	k := r * kappa
	z.MoveTo(x0+r, y0)
	z.LineTo(x1-r, y0)
	z.CubeTo(x1-r+k, y0, x1, y0+r-k, x1, y0+r)
	z.LineTo(x1, y1-r)
	z.CubeTo(x1, y1-r+k, x1-r+k, y1, x1-r, y1)
	z.LineTo(x0+r, y1)
	z.CubeTo(x0+r-k, y1, x0, y1-r+k, x0, y1-r)
	z.LineTo(x0, y0+r)
	z.CubeTo(x0, y0+r-k, x0+r-k, y0, x0+r, y0)
	z.ClosePath()
}
