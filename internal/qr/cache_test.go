package qr

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingCache returns a cache whose renders are counted per call.
func countingCache(maxEntries int, maxBytes int64) (*Cache, *atomic.Int64) {
	c := NewCache(maxEntries, maxBytes)
	var n atomic.Int64
	c.render = func(data string, o Options) ([]byte, error) {
		n.Add(1)
		return Render(data, o)
	}
	return c, &n
}

func TestCacheHit(t *testing.T) {
	t.Parallel()
	c, renders := countingCache(10, 0)
	o := Options{Size: 300, Style: StyleBranded, Logo: "BTC", Branding: true}
	a, err := c.Render(payBTCURI, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Render(payBTCURI, o)
	if err != nil {
		t.Fatal(err)
	}
	if renders.Load() != 1 {
		t.Errorf("%d renders, want 1", renders.Load())
	}
	if !bytes.Equal(a, b) {
		t.Error("hit returned different bytes")
	}
	direct, err := Render(payBTCURI, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, direct) {
		t.Error("cached bytes differ from Render")
	}
	// Callers get their own copy.
	a[0] ^= 0xff
	if c2, _ := c.Render(payBTCURI, o); !bytes.Equal(c2, direct) {
		t.Error("mutating a result changed the cache")
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
}

func TestCacheKey(t *testing.T) {
	t.Parallel()
	c, renders := countingCache(100, 0)
	base := Options{Size: 200, Style: StyleBranded, Logo: "BTC"}
	distinct := []struct {
		data string
		o    Options
	}{
		{payAddress, base},
		{payWebURL, base},
		{payAddress, Options{Size: 201, Style: StyleBranded, Logo: "BTC"}},
		{payAddress, Options{Size: 200, Style: StyleBasic, Logo: "BTC"}},
		{payAddress, Options{Size: 200, Style: StyleBranded, Logo: "ETH"}},
		{payAddress, Options{Size: 200, Style: StyleBranded, Logo: "BTC", Branding: true}},
	}
	for _, d := range distinct {
		if _, err := c.Render(d.data, d.o); err != nil {
			t.Fatal(err)
		}
	}
	if got := renders.Load(); got != int64(len(distinct)) {
		t.Fatalf("%d renders for %d distinct keys", got, len(distinct))
	}
	// Equivalent options share an entry: the same logo under another
	// symbol, the Logo of a basic code, and the empty style.
	same := []struct {
		data string
		o    Options
	}{
		{payAddress, Options{Size: 200, Style: StyleBranded, Logo: "BTC_TEST"}},
		{payAddress, Options{Size: 200, Style: StyleBasic, Logo: "whatever"}},
		{payAddress, Options{Size: 200, Logo: "BTC"}},
	}
	for _, d := range same {
		if _, err := c.Render(d.data, d.o); err != nil {
			t.Fatal(err)
		}
	}
	if got := renders.Load(); got != int64(len(distinct)) {
		t.Errorf("equivalent options re-rendered: %d renders", got)
	}
}

func TestCacheEvictsByEntries(t *testing.T) {
	t.Parallel()
	c, renders := countingCache(2, 0)
	o := Options{Size: 120}
	render := func(data string) {
		t.Helper()
		if _, err := c.Render(data, o); err != nil {
			t.Fatal(err)
		}
	}
	render("a")
	render("b")
	render("a") // hit; "b" becomes least recently used
	render("c") // evicts "b"
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
	if renders.Load() != 3 {
		t.Fatalf("%d renders, want 3", renders.Load())
	}
	render("a")
	render("c")
	if renders.Load() != 3 {
		t.Errorf("a or c was evicted: %d renders", renders.Load())
	}
	render("b")
	if renders.Load() != 4 {
		t.Errorf("b was not evicted: %d renders", renders.Load())
	}
}

func TestCacheEvictsByBytes(t *testing.T) {
	t.Parallel()
	c := NewCache(100, 0)
	var renders atomic.Int64
	c.render = func(data string, o Options) ([]byte, error) {
		renders.Add(1)
		return make([]byte, o.Size*10), nil
	}
	// Learn the cost of one 1000-byte entry, then allow two and a half.
	if _, err := c.Render("a", Options{Size: 100}); err != nil {
		t.Fatal(err)
	}
	cost := c.Bytes()
	if cost < 1000 {
		t.Fatalf("entry cost %d < payload", cost)
	}
	c.maxBytes = cost*5/2 + 1
	for _, k := range []string{"b", "c"} {
		if _, err := c.Render(k, Options{Size: 100}); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 2 || c.Bytes() > c.maxBytes {
		t.Fatalf("Len = %d, Bytes = %d, max %d; want 2 entries", c.Len(), c.Bytes(), c.maxBytes)
	}
	renders.Store(0)
	if _, err := c.Render("a", Options{Size: 100}); err != nil {
		t.Fatal(err)
	}
	if renders.Load() != 1 {
		t.Error(`"a" should have been evicted by size`)
	}
	// An entry larger than the whole budget is returned but not kept.
	big, err := c.Render("big", Options{Size: int(cost) * 3})
	if err != nil || len(big) != int(cost)*30 {
		t.Fatalf("big: %d bytes, %v", len(big), err)
	}
	if c.Len() != 2 || c.Bytes() > c.maxBytes {
		t.Errorf("oversized entry disturbed the cache: Len = %d, Bytes = %d", c.Len(), c.Bytes())
	}
}

func TestCacheDoesNotCacheErrors(t *testing.T) {
	t.Parallel()
	c, renders := countingCache(10, 0)
	for i := 0; i < 3; i++ {
		if _, err := c.Render(payWebURL, Options{Size: 5}); !errors.Is(err, ErrInvalidSize) {
			t.Fatalf("err = %v", err)
		}
	}
	if renders.Load() != 3 || c.Len() != 0 {
		t.Errorf("renders = %d, Len = %d; errors must not be cached", renders.Load(), c.Len())
	}
}

// TestCacheConcurrentRendersOnce starts many identical requests while the
// first render is blocked, then releases it: exactly one render must run.
func TestCacheConcurrentRendersOnce(t *testing.T) {
	t.Parallel()
	c := NewCache(10, 0)
	var renders atomic.Int64
	started := make(chan struct{})
	release := make(chan struct{})
	c.render = func(data string, o Options) ([]byte, error) {
		if renders.Add(1) == 1 {
			close(started)
		}
		<-release
		return Render(data, o)
	}
	o := Options{Size: 256, Style: StyleBranded, Logo: "ETH"}
	const callers = 32
	results := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.Render(payETHURI, o)
		}()
	}
	<-started
	// Give the other callers time to find the render in flight. Callers
	// arriving after it completes hit the cache, so the count stays exact.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if renders.Load() != 1 {
		t.Errorf("%d renders for %d identical concurrent calls", renders.Load(), callers)
	}
	for i := range callers {
		if errs[i] != nil || !bytes.Equal(results[i], results[0]) {
			t.Fatalf("caller %d: %v, %d bytes", i, errs[i], len(results[i]))
		}
	}
}

// TestCacheConcurrentMixed hammers the cache with overlapping keys under
// -race and checks the bounds hold.
func TestCacheConcurrentMixed(t *testing.T) {
	t.Parallel()
	c, _ := countingCache(5, 0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				data := fmt.Sprintf("https://paytest.bitnovo.com/%d/", (i*7+g)%9)
				b, err := c.Render(data, Options{Size: 110})
				if err != nil {
					t.Error(err)
					return
				}
				if len(b) == 0 {
					t.Error("empty PNG")
				}
				if n := c.Len(); n > 5 {
					t.Errorf("Len = %d > 5", n)
				}
			}
		}()
	}
	wg.Wait()
}

func TestCacheRenderPanicReleasesWaiters(t *testing.T) {
	t.Parallel()
	c := NewCache(10, 0)
	started := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int64
	c.render = func(string, Options) ([]byte, error) {
		if calls.Add(1) > 1 {
			return nil, errors.New("second render")
		}
		close(started)
		<-release
		panic("boom")
	}
	go func() {
		defer func() { _ = recover() }()
		_, _ = c.Render("x", Options{Size: 200})
	}()
	<-started
	done := make(chan error)
	go func() {
		_, err := c.Render("x", Options{Size: 200})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	close(release)
	select {
	case err := <-done:
		if err == nil {
			t.Error("waiter got no error from a panicked render")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter blocked after the render panicked")
	}
}

func TestNewCacheDefaults(t *testing.T) {
	t.Parallel()
	c := NewCache(0, -1)
	if c.maxEntries != DefaultCacheEntries || c.maxBytes != DefaultCacheBytes {
		t.Errorf("defaults = %d entries, %d bytes", c.maxEntries, c.maxBytes)
	}
}

func TestCacheRenderShared(t *testing.T) {
	t.Parallel()
	c, renders := countingCache(10, 0)
	o := Options{Size: 400, Style: StyleBranded, Logo: "ETH", Branding: true}
	a, err := c.RenderShared(payBTCURI, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.RenderShared(payBTCURI, o)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || renders.Load() != 1 {
		t.Fatalf("second call: same result %v, %d renders; want the shared entry and 1 render", a == b, renders.Load())
	}
	direct, err := Render(payBTCURI, o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.PNG, direct) || a.DataURL != DataURL(direct) {
		t.Fatal("shared PNG or data URL differs from Render's")
	}
	if copied, _ := c.Render(payBTCURI, o); &copied[0] == &a.PNG[0] {
		t.Fatal("Render returned the shared slice, not a copy")
	}
	if got, want := c.Bytes(), int64(len(a.PNG)+len(a.DataURL)); got < want {
		t.Fatalf("Bytes = %d, less than the PNG and its data URL (%d)", got, want)
	}
}
