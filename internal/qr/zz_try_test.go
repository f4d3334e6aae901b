package qr

import ("testing";"fmt")

func BenchmarkZZLevels(b *testing.B) {
	for _, o := range []Options{{Size:512, Style:StyleBranded, Logo:"BTC", Branding:true},{Size:2000, Style:StyleBranded, Logo:"BTC", Branding:true},{Size:512},{Size:2000}} {
		img, err := renderImage(payBTCURI, o)
		if err != nil { b.Fatal(err) }
		for _, lvl := range []int{1, 2, 3, 6, 9} {
			b.Run(fmt.Sprintf("%d/%s/%d", o.Size, o.Style, lvl), func(b *testing.B){ var n int; for b.Loop() { p, _ := writePNG(img, lvl); n = len(p) }; b.ReportMetric(float64(n), "bytes") })
		}
	}
}
