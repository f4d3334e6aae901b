package qr

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// TestRendererMatchesRender: reused zlib writers and cached scaled assets
// give exactly the PNGs Render gives, from many goroutines at once.
func TestRendererMatchesRender(t *testing.T) {
	cases := []struct {
		data string
		o    Options
	}{
		{payBTCURI, Options{Size: 512, Style: StyleBranded, Logo: "BTC", Branding: true}},
		{payBTCURI, Options{Size: 1000, Style: StyleBranded, Logo: "BTC", Branding: true}},
		{payBTCURI, Options{Size: 333, Style: StyleBranded, Logo: "ETH"}},
		{payWebURL, Options{Size: 100, Style: StyleBranded, Logo: "bitnovo", Branding: true}},
		{payWebURL, Options{Size: 2000, Style: StyleBasic, Branding: true}},
		{payBTCURI, Options{Size: 777, Style: StyleBasic}},
	}
	want := make([][]byte, len(cases))
	for i, c := range cases {
		png, err := Render(c.data, c.o)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = png
	}
	r := newRenderer(DefaultScaledBytes)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for round := range 3 {
				for i := range cases {
					c := cases[(i+g)%len(cases)]
					got, err := r.render(c.data, c.o)
					if err != nil {
						t.Error(err)
						return
					}
					if !bytes.Equal(got, want[(i+g)%len(cases)]) {
						t.Errorf("round %d, %+v: renderer PNG differs from Render's", round, c.o)
					}
				}
			}
		})
	}
	wg.Wait()
	if n, _ := r.scaled.stats(); n == 0 {
		t.Error("no scaled asset was kept")
	}
}

func TestScaledCacheEvictsByBytes(t *testing.T) {
	c := newScaledCache(1000)
	draws := 0
	get := func(name string, n int) []uint8 {
		return c.get(scaledKey{name, n, 1}, func() []uint8 { draws++; return make([]uint8, n) })
	}
	get("a", 400)
	get("b", 400)
	get("a", 400) // hit; a is now the most recent
	if draws != 2 {
		t.Fatalf("draws = %d, want 2", draws)
	}
	get("c", 400) // 1200 > 1000: b, the least recently used, goes
	if n, b := c.stats(); n != 2 || b != 800 {
		t.Fatalf("after eviction: %d entries, %d bytes; want 2, 800", n, b)
	}
	get("a", 400)
	if draws != 3 {
		t.Fatalf("a was evicted instead of b (draws = %d)", draws)
	}
	get("b", 400)
	if draws != 4 {
		t.Fatalf("b still cached (draws = %d)", draws)
	}
	get("huge", 2000) // larger than the bound: drawn, not kept
	if n, b := c.stats(); n != 2 || b != 800 {
		t.Fatalf("an oversized entry changed the cache: %d entries, %d bytes", n, b)
	}
	var nilCache *scaledCache
	if got := nilCache.get(scaledKey{"x", 3, 1}, func() []uint8 { return make([]uint8, 3) }); len(got) != 3 {
		t.Fatalf("nil cache get = %v", got)
	}
}

func TestScaledCacheConcurrent(t *testing.T) {
	c := newScaledCache(5000)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n := 100 + (i+g)%20*10
				k := scaledKey{fmt.Sprint("asset", (i+g)%20), n, 1}
				if pix := c.get(k, func() []uint8 { return bytes.Repeat([]byte{byte(n)}, n) }); len(pix) != n || pix[0] != byte(n) {
					t.Errorf("%v: got %d bytes of %d", k, len(pix), pix[0])
					return
				}
			}
		})
	}
	wg.Wait()
	if _, b := c.stats(); b > 5000 {
		t.Fatalf("%d bytes kept, bound 5000", b)
	}
}
