package webhook

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// limiter is a set of golang.org/x/time/rate token buckets keyed by source,
// bounded with LRU eviction (container/list: x/time has no keyed set). An
// evicted source starts again with a full bucket, which is the state an idle
// source would have reached anyway.
type limiter struct {
	rate  rate.Limit
	burst int
	max   int

	mu  sync.Mutex
	lru list.List // front = most recently seen; values are *bucket
	m   map[string]*list.Element
}

type bucket struct {
	source string
	lim    *rate.Limiter
}

func newLimiter(rl RateLimit) *limiter {
	if rl.Disabled {
		return nil
	}
	l := &limiter{rate: rate.Limit(rl.PerSecond), burst: rl.Burst, max: rl.MaxSources, m: map[string]*list.Element{}}
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

// allow takes a token for source at now, or says how long until one is
// available (for Retry-After) without taking it.
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
	} else {
		if l.lru.Len() >= l.max {
			oldest := l.lru.Back()
			delete(l.m, oldest.Value.(*bucket).source)
			l.lru.Remove(oldest)
		}
		b = &bucket{source: source, lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[source] = l.lru.PushFront(b)
	}
	if b.lim.AllowN(now, 1) {
		return true, 0
	}
	r := b.lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now) // a refused request takes no token
	return false, wait
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
