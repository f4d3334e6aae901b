package qr

import (
	"container/list"
	"sync"
)

// DefaultScaledBytes bounds the scaled logos and wordmarks a Cache keeps.
const DefaultScaledBytes = 2 << 20

// scaledKey names an asset drawn at one size: a logo ("logo:BTC") or the
// wordmark, w×h pixels.
type scaledKey struct {
	asset string
	w, h  int
}

type scaledEntry struct {
	key scaledKey
	pix []uint8
}

// scaledCache keeps assets already scaled to a size and mapped to palette
// indices (one byte per pixel, row-major, w×h), least recently used first
// out, within maxBytes. Scaling is a tenth of a render and every render of a
// given size and logo draws the same pixels. A nil *scaledCache keeps
// nothing. Safe for concurrent use; the slices it returns are shared and
// must not be modified.
type scaledCache struct {
	maxBytes int

	mu    sync.Mutex
	lru   *list.List // of *scaledEntry, most recent at the front
	items map[scaledKey]*list.Element
	bytes int
}

func newScaledCache(maxBytes int) *scaledCache {
	return &scaledCache{maxBytes: maxBytes, lru: list.New(), items: map[scaledKey]*list.Element{}}
}

// get returns the pixels of k, computing them with draw on a miss. Two
// concurrent misses may both draw; the pixels are the same.
func (c *scaledCache) get(k scaledKey, draw func() []uint8) []uint8 {
	if c == nil {
		return draw()
	}
	c.mu.Lock()
	if el, ok := c.items[k]; ok {
		c.lru.MoveToFront(el)
		pix := el.Value.(*scaledEntry).pix
		c.mu.Unlock()
		return pix
	}
	c.mu.Unlock()

	pix := draw()
	if len(pix) > c.maxBytes {
		return pix
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok { // drawn meanwhile by another call
		c.lru.MoveToFront(el)
		return el.Value.(*scaledEntry).pix
	}
	c.items[k] = c.lru.PushFront(&scaledEntry{key: k, pix: pix})
	c.bytes += len(pix)
	for c.bytes > c.maxBytes {
		e := c.lru.Remove(c.lru.Back()).(*scaledEntry)
		delete(c.items, e.key)
		c.bytes -= len(e.pix)
	}
	return pix
}

// stats returns the number of entries and their bytes.
func (c *scaledCache) stats() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.bytes
}
