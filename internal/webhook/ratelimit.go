package webhook

import (
	"container/list"
	"math"
	"sync"
	"time"
)

// RateLimit is the per-source token bucket in front of the webhook path.
// The zero value applies the defaults; Disabled turns it off.
type RateLimit struct {
	PerSecond  float64 // sustained requests per second per source (default 20)
	Burst      int     // bucket size (default 40)
	MaxSources int     // sources remembered; the least recently seen is evicted (default 10000)
	Disabled   bool
}

const (
	defaultPerSecond  = 20
	defaultBurst      = 40
	defaultMaxSources = 10000
)

// limiter is a set of token buckets keyed by source, bounded with LRU
// eviction. An evicted source starts again with a full bucket, which is the
// state an idle source would have reached anyway.
type limiter struct {
	rate  float64
	burst float64
	max   int

	mu  sync.Mutex
	lru list.List // front = most recently seen; values are *bucket
	m   map[string]*list.Element
}

type bucket struct {
	source string
	tokens float64
	last   time.Time
}

func newLimiter(rl RateLimit) *limiter {
	if rl.Disabled {
		return nil
	}
	l := &limiter{rate: rl.PerSecond, burst: float64(rl.Burst), max: rl.MaxSources, m: map[string]*list.Element{}}
	if l.rate <= 0 {
		l.rate = defaultPerSecond
	}
	if l.burst < 1 {
		l.burst = defaultBurst
	}
	if l.max <= 0 {
		l.max = defaultMaxSources
	}
	return l
}

// allow takes a token for source, or says how long until one is available.
func (l *limiter) allow(source string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var b *bucket
	if el, ok := l.m[source]; ok {
		l.lru.MoveToFront(el)
		b = el.Value.(*bucket)
		if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
			b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		}
		b.last = now
	} else {
		if l.lru.Len() >= l.max {
			oldest := l.lru.Back()
			delete(l.m, oldest.Value.(*bucket).source)
			l.lru.Remove(oldest)
		}
		b = &bucket{source: source, tokens: l.burst, last: now}
		l.m[source] = l.lru.PushFront(b)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
