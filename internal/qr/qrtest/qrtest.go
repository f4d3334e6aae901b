// Package qrtest decodes QR code images the way the scanners people use
// do, for tests: ZBar (zbarimg, what many Linux and Android apps embed),
// ZXing's Go port without TryHarder (plain and PureBarcode, as phone
// scanners run it: one attempt, no rotations) and jsQR (web wallets), on
// the image as rendered, scaled to half size and mildly blurred.
//
// ZBar and jsQR run as one external process per batch of files (zbarimg
// takes many files, decode.mjs reads paths on stdin), so a matrix of
// thousands of images costs a few process starts.
package qrtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// RequireEnv names the variable that turns a missing external decoder
// (zbarimg, node or jsQR's npm packages) from a skip into a failure. CI
// sets it.
const RequireEnv = "CRYPTOPAY_REQUIRE_QR_DECODERS"

// Variant is one way a scanner may see an image.
type Variant string

// Variants of every image in the matrix.
const (
	Full Variant = "full" // as rendered
	Half Variant = "half" // scaled to half its width and height (bilinear)
	Blur Variant = "blur" // mildly blurred: a [1 2 1]/4 binomial kernel across and down
)

// Variants lists every Variant.
var Variants = []Variant{Full, Half, Blur}

// Module widths, in pixels of the image as rendered, from which a code
// must also decode blurred and at half size. Below them the variant is
// beyond what sampling allows: a [1 2 1] blur over 2-3 px modules, or halving
// 4 px modules onto a grid that is off by half a pixel, leaves every module
// a mixture of its neighbours (docs/benchmarks-qr.md has the measured rates).
const (
	MinPxBlur = 4
	MinPxHalf = 5
)

// ZXingReadsHalf reports whether ZXing's detector can size an n-module
// symbol drawn with modules px pixels wide once the image is halved.
//
// ZXing takes the module width from a finder pattern's width over 7 and
// the symbol's dimension from the distance between finders over that
// width. Halved, modules are px/2 pixels, and on an odd pixel the finder's
// outer edges are grey: the binarizer may count one pixel more or fewer
// across it, so the width is off by up to 1/(3.5·px-1) and the n-7 modules
// between finder centres by (n-7)/(3.5·px-1). From an error of 1.5 modules
// the dimension rounds to the wrong side of ZXing's n ≡ 1 (mod 4)
// correction and the symbol is refused ("dimension = 39" for a 41-module
// code). ZBar and jsQR size the symbol otherwise and are not bound by
// this (docs/benchmarks-qr.md, "ZXing at half size").
func ZXingReadsHalf(n, px int) bool {
	return px >= MinPxHalf && float64(n-7) < 1.5*(3.5*float64(px)-1)
}

// Required returns the variants a code with modules px pixels wide must
// decode in.
func Required(px int) []Variant {
	v := []Variant{Full}
	if px >= MinPxHalf {
		v = append(v, Half)
	}
	if px >= MinPxBlur {
		v = append(v, Blur)
	}
	return v
}

// Apply returns img as v sees it: img itself for Full, else an image in
// grey levels (what every decoder reduces an image to).
func Apply(img image.Image, v Variant) image.Image {
	if v == Full {
		return img
	}
	g := Gray(img)
	b := g.Rect
	var dst *image.RGBA
	switch v {
	case Half:
		dst = image.NewRGBA(image.Rect(0, 0, max(1, b.Dx()/2), max(1, b.Dy()/2)))
		draw.BiLinear.Scale(dst, dst.Rect, g, b, draw.Src, nil)
	case Blur:
		// Bilinear sampling half a pixel off averages each 2×2 block; doing
		// it once each way is the binomial [1 2 1]/4 across and down (a
		// Gaussian of about 0.7 px), with the image back in place.
		dst = shift(shift(g, 0.5), -0.5)
	default:
		panic(fmt.Sprintf("qrtest: unknown variant %q", v))
	}
	return Gray(dst)
}

// shift resamples img moved by d pixels right and down, on white.
func shift(img image.Image, d float64) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Rect, image.White, image.Point{}, draw.Src)
	s2d := f64.Aff3{1, 0, d - float64(b.Min.X), 0, 1, d - float64(b.Min.Y)}
	draw.BiLinear.Transform(dst, s2d, img, b, draw.Src, nil)
	return dst
}

// Gray returns img in grey levels (ITU-R 601 luma), at the origin.
func Gray(img image.Image) *image.Gray {
	if g, ok := img.(*image.Gray); ok && g.Rect.Min == (image.Point{}) {
		return g
	}
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch src := img.(type) {
	case *image.Paletted:
		lut := make([]uint8, len(src.Palette))
		for i, c := range src.Palette {
			lut[i] = color.GrayModel.Convert(c).(color.Gray).Y
		}
		for y := 0; y < b.Dy(); y++ {
			row := src.Pix[(y+b.Min.Y-src.Rect.Min.Y)*src.Stride+(b.Min.X-src.Rect.Min.X):][:b.Dx()]
			out := g.Pix[y*g.Stride:][:b.Dx()]
			for x, i := range row {
				out[x] = lut[i]
			}
		}
	case *image.RGBA:
		for y := 0; y < b.Dy(); y++ {
			row := src.Pix[(y+b.Min.Y-src.Rect.Min.Y)*src.Stride+4*(b.Min.X-src.Rect.Min.X):][:4*b.Dx()]
			out := g.Pix[y*g.Stride:][:b.Dx()]
			for x := range out {
				r, gg, bl := uint32(row[4*x]), uint32(row[4*x+1]), uint32(row[4*x+2])
				out[x] = uint8((19595*r + 38470*gg + 7471*bl + 1<<15) >> 16)
			}
		}
	default:
		draw.Draw(g, g.Rect, img, b.Min, draw.Src)
	}
	return g
}

// Symbol locates the code in a rendered image from its finder patterns: the
// first row holding dark pixels is the top edge of the two upper finders,
// whose outer edges give the symbol's width (it is square), and a finder is
// 7 modules wide. ok is false if the image has no dark pixel.
func Symbol(img image.Image) (symbol image.Rectangle, px int, ok bool) {
	g := Gray(img)
	for y := 0; y < g.Rect.Dy(); y++ {
		row := g.Pix[y*g.Stride:][:g.Rect.Dx()]
		x0, x1 := -1, -1
		for x, v := range row {
			if v < 0x80 {
				if x0 < 0 {
					x0 = x
				}
				x1 = x
			}
		}
		if x0 < 0 {
			continue
		}
		run := 0 // the top edge of the upper-left finder
		for x := x0; x < len(row) && row[x] < 0x80; x++ {
			run++
		}
		w := x1 - x0 + 1
		return image.Rect(x0, y, x0+w, y+w).Add(img.Bounds().Min), run / 7, true
	}
	return image.Rectangle{}, 0, false
}

// WithoutBand returns img cut below the symbol's quiet zone, dropping a
// band drawn under the code (the "Bitnovo Pay" mark), for decoders that
// assume the image holds nothing but the code (PureBarcode).
func WithoutBand(img image.Image) image.Image {
	sym, px, ok := Symbol(img)
	if !ok {
		return img
	}
	b := img.Bounds()
	r := image.Rect(b.Min.X, b.Min.Y, b.Max.X, min(b.Max.Y, sym.Max.Y+4*px))
	g := Gray(img)
	return g.SubImage(r.Sub(b.Min))
}

// Modules measures a rendered code (see Symbol): its side in modules and
// its module width in pixels; 0, 0 if the image has no dark pixel.
func Modules(img image.Image) (n, px int) {
	sym, px, ok := Symbol(img)
	if !ok || px == 0 {
		return 0, 0
	}
	return sym.Dx() / px, px
}

// GoZXing decodes img with gozxing's QR reader without TryHarder; pure
// selects the PureBarcode hint (the image is taken to hold the code alone,
// read module by module from its bounding box).
func GoZXing(img image.Image, pure bool) (string, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("gozxing bitmap: %w", err)
	}
	var hints map[gozxing.DecodeHintType]any
	if pure {
		hints = map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		return "", fmt.Errorf("gozxing: %w", err)
	}
	return res.GetText(), nil
}

// WritePNG writes img to path as a PNG.
func WritePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Result is what one external decoder read in one file: the texts of the
// QR codes it found (none, one, or, wrongly, several).
type Result struct {
	Texts []string
	Err   string // the decoder's own complaint, if it gave one
}

// ErrMissing means an external decoder is not installed.
var ErrMissing = errors.New("qrtest: decoder not installed")

// ZBarAvailable reports whether zbarimg is on PATH.
func ZBarAvailable() error {
	if _, err := exec.LookPath("zbarimg"); err != nil {
		return fmt.Errorf("%w: zbarimg (Debian package zbar-tools): %w", ErrMissing, err)
	}
	return nil
}

// zbarXML is zbarimg's --xml output.
type zbarXML struct {
	Sources []struct {
		Href    string `xml:"href,attr"`
		Symbols []struct {
			Type string `xml:"type,attr"`
			Data string `xml:"data"`
		} `xml:"index>symbol"`
	} `xml:"source"`
}

// ZBar decodes files with zbarimg, a few hundred files per run, runs in
// parallel, and returns what it found per file. Every file appears in the
// result.
func ZBar(ctx context.Context, files []string, parallel int) (map[string]Result, error) {
	if err := ZBarAvailable(); err != nil {
		return nil, err
	}
	const chunk = 300 // keeps the command line well under ARG_MAX
	return inParallel(files, parallel, chunk, func(batch []string) (map[string]Result, error) { return zbar(ctx, batch) })
}

// inParallel splits files into batches of at most chunk (and at least
// parallel batches) and runs decode on them, parallel at a time.
func inParallel(files []string, parallel, chunk int, decode func([]string) (map[string]Result, error)) (map[string]Result, error) {
	parallel = max(1, parallel)
	size := min(chunk, max(1, (len(files)+parallel-1)/parallel))
	var batches [][]string
	for start := 0; start < len(files); start += size {
		batches = append(batches, files[start:min(start+size, len(files))])
	}
	var (
		mu   sync.Mutex
		out  = make(map[string]Result, len(files))
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, parallel)
	)
	for _, b := range batches {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			got, err := decode(b)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			maps.Copy(out, got)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// zbar runs zbarimg once on batch.
func zbar(ctx context.Context, batch []string) (map[string]Result, error) {
	args := append([]string{"--xml", "-q"}, batch...)
	cmd := exec.CommandContext(ctx, "zbarimg", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// Exit status 4 means some image held no barcode: a result, not a failure.
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 4 {
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("zbarimg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var doc zbarXML
	if err := xml.Unmarshal(stdout.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("zbarimg output: %w", err)
	}
	out := make(map[string]Result, len(batch))
	for _, f := range batch {
		out[f] = Result{}
	}
	for _, s := range doc.Sources {
		r := Result{}
		for _, sym := range s.Symbols {
			if sym.Type == "QR-Code" {
				r.Texts = append(r.Texts, sym.Data)
			} else {
				r.Err += fmt.Sprintf("also read a %s %q; ", sym.Type, sym.Data)
			}
		}
		out[s.Href] = r
	}
	return out, nil
}

// JSQRDir is the directory, relative to the module root, holding jsQR's
// package.json and decode.mjs.
const JSQRDir = "internal/qr/testdata/jsqr"

// JSQRAvailable reports whether node and jsQR's npm packages (npm ci in
// dir) are installed.
func JSQRAvailable(dir string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w: node: %w", ErrMissing, err)
	}
	for _, p := range []string{"node_modules/jsqr/package.json", "node_modules/pngjs/package.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return fmt.Errorf("%w: %s (run npm ci in %s): %w", ErrMissing, p, dir, err)
		}
	}
	return nil
}

// JSQR decodes files with parallel node processes running dir/decode.mjs.
func JSQR(ctx context.Context, dir string, files []string, parallel int) (map[string]Result, error) {
	if err := JSQRAvailable(dir); err != nil {
		return nil, err
	}
	return inParallel(files, parallel, len(files), func(batch []string) (map[string]Result, error) { return jsqr(ctx, dir, batch) })
}

// jsqr runs one node process on files.
func jsqr(ctx context.Context, dir string, files []string) (map[string]Result, error) {
	cmd := exec.CommandContext(ctx, "node", "decode.mjs")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(files, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("jsqr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("jsqr: start node: %w", err)
	}
	out := make(map[string]Result, len(files))
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var perr error
	for sc.Scan() {
		var line struct {
			File  string  `json:"file"`
			Text  *string `json:"text"`
			Error string  `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			perr = fmt.Errorf("jsqr output %q: %w", sc.Text(), err)
			break
		}
		r := Result{Err: line.Error}
		if line.Text != nil {
			r.Texts = []string{*line.Text}
		}
		out[line.File] = r
	}
	if perr == nil {
		perr = sc.Err()
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("jsqr: node: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if perr != nil {
		return nil, perr
	}
	for _, f := range files {
		if _, ok := out[f]; !ok {
			return nil, fmt.Errorf("jsqr: no answer for %s", f)
		}
	}
	return out, nil
}
