package qrtest

import (
	"image"
	"image/color"
	"testing"
)

// The blur is the binomial [1 2 1]/4 across and down: a black pixel on
// white spreads as 1/16, 2/16, 4/16 of its ink around it.
func TestBlurKernel(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 9, 9))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	img.SetGray(4, 4, color.Gray{0})
	g := Gray(Apply(img, Blur))
	want := map[[2]int]int{{4, 4}: 255 - 255*4/16, {3, 4}: 255 - 255*2/16, {4, 3}: 255 - 255*2/16, {3, 3}: 255 - 255/16, {5, 5}: 255 - 255/16}
	for p, w := range want {
		if got := int(g.GrayAt(p[0], p[1]).Y); got < w-2 || got > w+2 {
			t.Errorf("pixel %v = %d, want %d", p, got, w)
		}
	}
	if got := g.GrayAt(2, 4).Y; got != 255 {
		t.Errorf("pixel two away = %d, want untouched white", got)
	}
}

func TestHalfAndSymbol(t *testing.T) {
	// A 21-module "code" of 4 px modules with a 4-module quiet zone: only
	// the top-left finder's outer ring and the top-right corner matter to
	// Symbol.
	const px, n = 4, 21
	size := (n + 8) * px
	img := image.NewGray(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	dark := func(mx, my int) {
		for y := 0; y < px; y++ {
			for x := 0; x < px; x++ {
				img.SetGray((mx+4)*px+x, (my+4)*px+y, color.Gray{0})
			}
		}
	}
	for i := 0; i < 7; i++ {
		dark(i, 0)
		dark(n-7+i, 0)
	}
	sym, gotPx, ok := Symbol(img)
	if !ok || gotPx != px || sym != image.Rect(4*px, 4*px, (4+n)*px, (4+n)*px) {
		t.Fatalf("Symbol = %v, %d px, %v", sym, gotPx, ok)
	}
	if h := Apply(img, Half).Bounds(); h.Dx() != size/2 || h.Dy() != size/2 {
		t.Fatalf("half is %v", h)
	}
	if got := WithoutBand(img).Bounds(); got.Max.Y != (4+n+4)*px {
		t.Fatalf("WithoutBand cut at %d, want %d", got.Max.Y, (4+n+4)*px)
	}
	if r := Required(MinPxBlur - 1); len(r) != 1 || r[0] != Full {
		t.Errorf("Required(%d) = %v", MinPxBlur-1, r)
	}
	if r := Required(MinPxHalf); len(r) != 3 {
		t.Errorf("Required(%d) = %v", MinPxHalf, r)
	}
}

// TestZXingReadsHalf: the measured cases of docs/benchmarks-qr.md ("ZXing at
// half size") fall on the side of the rule the sweep found them on.
func TestZXingReadsHalf(t *testing.T) {
	for _, c := range []struct {
		n, px int
		want  bool
	}{
		{41, 6, false}, // 13 of 172 halved images refused ("dimension = 39")
		{45, 6, false}, // refused ("dimension = 43")
		{37, 6, false}, // 1 of 1,904 refused: an error of exactly 1.5 modules
		{33, 6, true},
		{37, 10, true},
		{57, 10, true},
		{29, 5, true},
		{33, 5, false},
		{21, 4, false}, // below MinPxHalf: no half size at all
	} {
		if got := ZXingReadsHalf(c.n, c.px); got != c.want {
			t.Errorf("ZXingReadsHalf(%d, %d) = %v, want %v", c.n, c.px, got, c.want)
		}
	}
}
