package qr

import (
	"fmt"
	"testing"
)

func benchmarkRender(b *testing.B, data string, o Options) {
	b.Helper()
	png, err := Render(data, o) // warm the lazily decoded assets
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if png, err = Render(data, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(png)), "png-bytes")
}

func BenchmarkRender512Branded(b *testing.B) {
	benchmarkRender(b, payBTCURI, Options{Size: 512, Style: StyleBranded, Logo: "BTC", Branding: true})
}

func BenchmarkRender2000Branded(b *testing.B) {
	benchmarkRender(b, payBTCURI, Options{Size: 2000, Style: StyleBranded, Logo: "BTC", Branding: true})
}

func BenchmarkRender512Basic(b *testing.B) {
	benchmarkRender(b, payBTCURI, Options{Size: 512, Style: StyleBasic})
}

func BenchmarkRender2000Basic(b *testing.B) {
	benchmarkRender(b, payBTCURI, Options{Size: 2000, Style: StyleBasic})
}

func BenchmarkRender100Branded(b *testing.B) {
	benchmarkRender(b, payWebURL, Options{Size: 100, Style: StyleBranded, Logo: "bitnovo", Branding: true})
}

func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(100, 0)
	o := Options{Size: 512, Style: StyleBranded, Logo: "BTC", Branding: true}
	if _, err := c.Render(payBTCURI, o); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Render(payBTCURI, o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMatrix(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeQR([]byte(payBTCURI), eccH, true, autoMask); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheMiss512Branded is the create path: a new payment URI every
// call (the address and amount differ), rendered through a Cache, which
// reuses zlib writers and the logo and wordmark scaled to 512 px.
func BenchmarkCacheMiss512Branded(b *testing.B) {
	c := NewCache(100, 0)
	o := Options{Size: 512, Style: StyleBranded, Logo: "BTC", Branding: true}
	if _, err := c.Render(payBTCURI, o); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := c.Render(fmt.Sprintf("%s%08d", payBTCURI, i), o); err != nil {
			b.Fatal(err)
		}
	}
}
