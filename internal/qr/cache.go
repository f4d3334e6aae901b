package qr

import (
	"container/list"
	"errors"
	"slices"
	"sync"
)

// Cache defaults, used when NewCache gets a limit ≤ 0.
const (
	DefaultCacheEntries       = 1000
	DefaultCacheBytes   int64 = 64 << 20
)

// entryOverhead approximates the bookkeeping bytes of one cache entry on top
// of its PNG and key.
const entryOverhead = 160

// errRenderPanicked is what callers waiting on a render that panicked get.
var errRenderPanicked = errors.New("qr: render panicked")

// Cache memoises Render in a least-recently-used cache bounded by both the
// number of entries and their total size. It is safe for concurrent use;
// concurrent calls for the same key render once and share the result. It
// starts no goroutines. Its misses render with reused zlib writers and with
// logos and the wordmark kept scaled per size (at most DefaultScaledBytes,
// on top of maxBytes); the PNGs are those of Render, byte for byte.
type Cache struct {
	maxEntries int
	maxBytes   int64
	render     func(string, Options) ([]byte, error) // Render; replaced in tests

	mu       sync.Mutex
	lru      *list.List // of *cacheEntry, most recently used at the front
	items    map[cacheKey]*list.Element
	inflight map[cacheKey]*renderCall
	bytes    int64
}

// cacheKey identifies a rendering: the data and every option, normalised so
// that equivalent options share an entry.
type cacheKey struct {
	data     string
	size     int
	style    Style
	logo     string
	branding bool
}

type cacheEntry struct {
	key  cacheKey
	img  *Rendered
	cost int64
}

type renderCall struct {
	done chan struct{}
	img  *Rendered
	err  error
}

// Rendered is a finished QR code: the PNG and its "data:image/png;base64,"
// URL (see DataURL). A Rendered from RenderShared is shared with the cache
// and every other caller: its PNG must not be modified.
type Rendered struct {
	PNG     []byte
	DataURL string
}

// NewCache returns a cache holding at most maxEntries PNGs and about
// maxBytes bytes of them. A limit ≤ 0 selects DefaultCacheEntries or
// DefaultCacheBytes.
func NewCache(maxEntries int, maxBytes int64) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	return &Cache{
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		render:     newRenderer(DefaultScaledBytes).render,
		lru:        list.New(),
		items:      make(map[cacheKey]*list.Element),
		inflight:   make(map[cacheKey]*renderCall),
	}
}

func newCacheKey(data string, o Options) cacheKey {
	k := cacheKey{data: data, size: o.Size, style: o.Style, branding: o.Branding}
	if k.style == "" {
		k.style = StyleBasic
	}
	if k.style == StyleBranded {
		k.logo = LogoFor(o.Logo) // basic codes ignore Logo
	}
	return k
}

// Render is Render memoised. The returned slice is the caller's own copy.
// Errors are not cached.
func (c *Cache) Render(data string, o Options) ([]byte, error) {
	img, err := c.RenderShared(data, o)
	if err != nil {
		return nil, err
	}
	return slices.Clone(img.PNG), nil
}

// RenderShared is Render memoised, without a copy: the result, PNG and data
// URL, is shared and read-only. A hit costs a map lookup. Errors are not
// cached.
func (c *Cache) RenderShared(data string, o Options) (*Rendered, error) {
	k := newCacheKey(data, o)

	c.mu.Lock()
	if el, ok := c.items[k]; ok {
		c.lru.MoveToFront(el)
		img := el.Value.(*cacheEntry).img
		c.mu.Unlock()
		return img, nil
	}
	if call, ok := c.inflight[k]; ok {
		c.mu.Unlock()
		<-call.done
		if call.err != nil {
			return nil, call.err
		}
		return call.img, nil
	}
	call := &renderCall{done: make(chan struct{})}
	c.inflight[k] = call
	c.mu.Unlock()

	finished := false
	defer func() {
		if !finished { // render panicked: release the waiters, then keep panicking
			call.err = errRenderPanicked
			c.mu.Lock()
			delete(c.inflight, k)
			c.mu.Unlock()
			close(call.done)
		}
	}()
	png, err := c.render(data, o)
	if err == nil {
		call.img = &Rendered{PNG: png, DataURL: DataURL(png)}
	}
	call.err = err
	finished = true

	c.mu.Lock()
	delete(c.inflight, k)
	if call.err == nil {
		c.add(k, call.img)
	}
	c.mu.Unlock()
	close(call.done)

	if call.err != nil {
		return nil, call.err
	}
	return call.img, nil
}

// add stores img under k and evicts least recently used entries until the
// limits hold. c.mu must be held.
func (c *Cache) add(k cacheKey, img *Rendered) {
	cost := int64(len(img.PNG)+len(img.DataURL)+len(k.data)+len(k.logo)) + entryOverhead
	if cost > c.maxBytes {
		return // would evict everything and still not fit
	}
	if el, ok := c.items[k]; ok { // cannot happen while inflight dedupes, but stay consistent
		c.removeElement(el)
	}
	c.items[k] = c.lru.PushFront(&cacheEntry{key: k, img: img, cost: cost})
	c.bytes += cost
	for c.lru.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.removeElement(c.lru.Back())
	}
}

func (c *Cache) removeElement(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.items, e.key)
	c.bytes -= e.cost
}

// Len returns the number of cached PNGs.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Bytes returns the accounted size of the cached PNGs and their data URLs,
// overhead included.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
