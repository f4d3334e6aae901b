// Package qr renders payment QR codes as PNG images that phones can scan.
//
// Every image is exactly Size×Size pixels on an opaque white background, with
// black, whole-pixel modules (every module has the same integer width) and a
// white quiet zone of at least four modules on all sides. Branded codes carry
// a logo in the centre, on a white pad aligned to module boundaries; logos
// and the "Bitnovo Pay" wordmark are embedded in the binary, nothing is
// downloaded.
//
// Basic codes use the smallest symbol that holds the data at level M
// (about 15% recoverable), which keeps modules large for a given pixel
// size, and then raise the level to Q or H when the data still fits in that
// symbol. Branded codes follow the logo rule of logo.go: the logo pad never
// covers a finder, alignment or timing pattern nor format or version
// information, and hides at most half of what each error-correction block
// can repair. Every module is at least 2 px wide. Data is encoded in byte
// mode (UTF-8 as is, no ECI), which is what wallets expect for URIs and
// addresses.
//
// Rendering is pure: Render allocates its own buffers and keeps no state, so
// it is safe for concurrent use. Cache adds a bounded LRU on top of it, and
// its renders reuse zlib writers and logos already scaled to a size (the
// PNGs are the same).
package qr

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/color"
)

// Style selects whether a logo is drawn in the centre of the code.
type Style string

// Styles. The empty Style is treated as StyleBasic.
const (
	StyleBasic   Style = "basic"   // plain code, error correction M or better
	StyleBranded Style = "branded" // logo in the centre, clear of every function pattern (logo.go)
)

// Size limits in pixels.
const (
	MinSize     = 100
	MaxSize     = 2000
	DefaultSize = 512
)

// Options controls Render.
type Options struct {
	// Size is the exact output width and height in pixels, MinSize..MaxSize.
	Size int
	// Style is StyleBasic (no logo) or StyleBranded (logo in the centre).
	Style Style
	// Logo names the embedded logo for StyleBranded: "bitnovo" or a currency
	// symbol such as "BTC", "USDC_ERC20" or "BTC_TEST". Unknown or empty
	// symbols fall back to the Bitnovo Pay logo; see LogoFor.
	Logo string
	// Branding draws a "Bitnovo Pay" text mark in a band below the code,
	// outside its quiet zone. The code shrinks to make room for it.
	Branding bool
}

// Errors returned (wrapped) by Render and Cache.Render.
var (
	// ErrInvalidSize means Size is outside MinSize..MaxSize, or too small to
	// draw this payload scannably (modules under 2 px).
	ErrInvalidSize = errors.New("qr: invalid size")
	// ErrDataTooLong means the payload does not fit in a QR code of the
	// requested style (2331 bytes for basic, 1722 for branded).
	ErrDataTooLong = errors.New("qr: data too long for a QR code")
	// ErrEmptyData means the payload is empty.
	ErrEmptyData = errors.New("qr: empty data")
	// ErrInvalidStyle means Style is not one of the Style constants.
	ErrInvalidStyle = errors.New("qr: invalid style")
)

// Geometry.
const (
	quietModules    = 4   // quiet zone width on each side, in modules
	minModuleBasic  = 2   // smallest module for a basic code, px
	minModuleLogo   = 2   // smallest module for a branded code, px
	minLogoPx       = 10  // smallest logo worth drawing, px
	logoMaxPercent  = 22  // logo width ≤ this % of the code width (quiet zone excluded)
	bandMinPx       = 10  // smallest branding band, px
	bandPercent     = 6   // branding band height as % of Size
	wordmarkPercent = 80  // wordmark height as % of the band
	wordmarkMargin  = 4   // horizontal margin of the wordmark in % of Size
	maxLevel        = 255 // upper bound of a colour channel
)

// Palette indices shared by every rendered image. Index 0 is white so that a
// freshly allocated image is already background.
const (
	idxWhite = 0
	idxBlack = 1
	// greyLevels is the size of the base palette: white, black and the
	// wordmark's two inks at indices 2 and 3 (wordmarkLevels below). Four
	// colours are a 2-bit PNG with the mark alone, and leave 12 entries of
	// a 4-bit one to a logo.
	greyLevels = 4
	// maxColours bounds every palette: 16 colours make a 4-bit PNG.
	maxColours = 16
)

// The wordmark is drawn in grey, never in the modules' black: dark
// lettering under a code made jsQR (web wallets) lock on a letter instead
// of a finder in about 1 in 100 halved codes, and a grey it binarizes as
// light (docs/benchmarks-qr.md, "The mark and jsQR"). Its ink is
// wordmarkInk with one anti-aliasing level halfway to white.
const (
	wordmarkInk    = 0x99 // #999999, on white 2.8:1
	wordmarkLevels = 3    // white, half ink, full ink
)

// basePalette returns white, black and the wordmark's two inks.
func basePalette() color.Palette {
	half := uint8(maxLevel - (maxLevel-wordmarkInk)/2)
	return color.Palette{
		color.RGBA{0xff, 0xff, 0xff, 0xff}, color.RGBA{0, 0, 0, 0xff},
		color.RGBA{half, half, half, 0xff}, color.RGBA{wordmarkInk, wordmarkInk, wordmarkInk, 0xff},
	}
}

// greyIndex maps the wordmark's ink coverage 0 (none) .. 255 (full) to a
// palette index: white, half ink (2) or full ink (3).
func greyIndex(ink uint8) uint8 {
	switch l := (int(ink)*(wordmarkLevels-1) + maxLevel/2) / maxLevel; l {
	case 0:
		return idxWhite
	default:
		return uint8(l + 1)
	}
}

// layout is the pixel geometry of one rendered image.
type layout struct {
	size    int
	modules int             // modules per side, quiet zone excluded
	px      int             // pixels per module
	code    image.Rectangle // the modules, quiet zone excluded
	pad     image.Rectangle // white logo pad (branded only)
	logo    image.Rectangle // logo (branded only)
	band    image.Rectangle // branding band (Branding only)
}

// computeLayout places an n-module code in a size×size image. The code plus
// its quiet zone (and the branding band below it, if any) is centred. padK
// is the side of the logo pad in modules (0: no logo).
func computeLayout(size, n, padK int, branding bool) (layout, error) {
	branded := padK > 0
	total := n + 2*quietModules
	minPx := minModuleBasic
	if branded {
		minPx = minModuleLogo
	}

	var px, band int
	if branding {
		want := max(bandMinPx, size*bandPercent/100)
		px = (size - want) / total
		if px < minPx {
			// A smaller band can still leave room for the code.
			px = (size - bandMinPx) / total
		}
		band = min(want, size-px*total)
	} else {
		px = size / total
	}
	if px < minPx {
		need := minPx * total
		if branding {
			need += bandMinPx
		}
		kind := "basic"
		if branded {
			kind = "branded"
		}
		return layout{}, fmt.Errorf("%w: %d px is too small for this payload (a %d-module %s code with a %d-module quiet zone needs at least %d px per module, so at least %d px)",
			ErrInvalidSize, size, n, kind, quietModules, minPx, need)
	}

	side := px * total
	x0 := (size - side) / 2
	y0 := (size - side - band) / 2
	q := quietModules * px
	l := layout{
		size:    size,
		modules: n,
		px:      px,
		code:    image.Rect(x0+q, y0+q, x0+side-q, y0+side-q),
	}
	if branding {
		l.band = image.Rect(0, y0+side, size, y0+side+band)
	}
	if branded {
		k := padK
		off := (n - k) / 2 * px
		l.pad = image.Rect(l.code.Min.X+off, l.code.Min.Y+off, l.code.Min.X+off+k*px, l.code.Min.Y+off+k*px)
		gap := max(1, px/2)
		lw := min(n*px*logoMaxPercent/100, k*px-2*gap)
		if lw < minLogoPx {
			return layout{}, fmt.Errorf("%w: %d px leaves only %d px for the logo of a %d-module branded code; use a larger size or the basic style",
				ErrInvalidSize, size, lw, n)
		}
		lo := (k*px - lw) / 2
		l.logo = image.Rect(l.pad.Min.X+lo, l.pad.Min.Y+lo, l.pad.Min.X+lo+lw, l.pad.Min.Y+lo+lw)
	}
	return l, nil
}

// Render returns a PNG of data encoded as a QR code according to o.
//
// Errors wrap ErrInvalidSize, ErrDataTooLong, ErrEmptyData or
// ErrInvalidStyle.
func Render(data string, o Options) ([]byte, error) {
	return (&renderer{}).render(data, o)
}

// pngLevel is the zlib level of the PNG data; see docs/benchmarks-qr.md for
// the speed and size trade-off.
const pngLevel = 5 // zlib level: 0 (none) to 9 (best)

// renderer is Render with state one render leaves for the next: zlib
// writers and assets scaled to a size. The zero renderer keeps nothing (as
// Render). Its images are byte for byte those of Render. Safe for
// concurrent use.
type renderer struct {
	zlib   *zlibPool
	scaled *scaledCache
}

func newRenderer(scaledBytes int) *renderer {
	return &renderer{zlib: &zlibPool{level: pngLevel}, scaled: newScaledCache(scaledBytes)}
}

func (r *renderer) render(data string, o Options) ([]byte, error) {
	img, err := r.renderImage(data, o)
	if err != nil {
		return nil, err
	}
	return writePNG(img, pngLevel, r.zlib)
}

func validate(data string, o Options) (Style, error) {
	style := o.Style
	if style == "" {
		style = StyleBasic
	}
	if style != StyleBasic && style != StyleBranded {
		return "", fmt.Errorf("%w: %q (want %q or %q)", ErrInvalidStyle, o.Style, StyleBasic, StyleBranded)
	}
	if o.Size < MinSize || o.Size > MaxSize {
		return "", fmt.Errorf("%w: %d px is outside %d..%d", ErrInvalidSize, o.Size, MinSize, MaxSize)
	}
	if data == "" {
		return "", ErrEmptyData
	}
	return style, nil
}

func (r *renderer) renderImage(data string, o Options) (*image.Paletted, error) {
	style, err := validate(data, o)
	if err != nil {
		return nil, err
	}
	branded := style == StyleBranded
	code, err := encode([]byte(data), style, fitVersion(o.Size, branded, o.Branding))
	if err != nil {
		return nil, err
	}
	lay, err := computeLayout(o.Size, code.size, code.padK, o.Branding)
	if err != nil {
		return nil, err
	}

	var (
		pal  color.Palette
		logo *logoAsset
	)
	if branded {
		logo, err = loadLogo(LogoFor(o.Logo))
		if err != nil {
			return nil, err
		}
		pal = logo.palette
	} else if o.Branding {
		pal = basePalette() // 4 colours: a 2-bit PNG
	} else {
		pal = basePalette()[:2] // black and white: a 1-bit PNG
	}

	img := image.NewPaletted(image.Rect(0, 0, o.Size, o.Size), pal)
	drawModules(img, lay, code)
	if branded {
		if err := drawLogo(img, lay, logo, r.scaled); err != nil {
			return nil, err
		}
	}
	if o.Branding {
		if err := drawWordmark(img, lay.band, r.scaled); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// encode builds the matrix of a style (see the package comment and
// logo.go), choosing among matrices of versions up to upTo.
func encode(data []byte, style Style, upTo int) (*qrMatrix, error) {
	if style == StyleBranded {
		return encodeBranded(data, autoMask, upTo)
	}
	return encodeQRUpTo(data, eccM, true, autoMask, upTo)
}

// fitVersion is the largest version computeLayout can place in size pixels
// (at least 1: a payload needing more fails there with ErrInvalidSize).
func fitVersion(size int, branded, branding bool) int {
	minPx := minModuleBasic
	if branded {
		minPx = minModuleLogo
	}
	if branding {
		size -= bandMinPx
	}
	n := size/minPx - 2*quietModules
	return max(minVersion, min(maxVersion, (n-17)/4))
}

// drawModules paints the dark modules black. The image starts white.
func drawModules(img *image.Paletted, l layout, code *qrMatrix) {
	n, px := l.modules, l.px
	row := make([]uint8, n*px)
	ink := bytes.Repeat([]byte{idxBlack}, px)
	for y := 0; y < n; y++ {
		clear(row)
		hasInk := false
		for x, d := range code.mod[y*n : (y+1)*n] {
			if d != 0 {
				copy(row[x*px:], ink)
				hasInk = true
			}
		}
		if !hasInk {
			continue
		}
		top := l.code.Min.Y + y*px
		for r := top; r < top+px; r++ {
			off := r*img.Stride + l.code.Min.X
			copy(img.Pix[off:off+len(row)], row)
		}
	}
}

// DataURL returns png as a "data:image/png;base64,..." URL.
func DataURL(png []byte) string {
	const prefix = "data:image/png;base64,"
	b := make([]byte, len(prefix)+base64.StdEncoding.EncodedLen(len(png)))
	copy(b, prefix)
	base64.StdEncoding.Encode(b[len(prefix):], png)
	return string(b)
}
