package webhook

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkLimiterAllow is one delivery's limiter check: a few known
// sources, tokens to spare.
func BenchmarkLimiterAllow(b *testing.B) {
	l := newLimiter(RateLimit{PerSecond: 1e9, Burst: 1 << 30})
	sources := make([]string, 8)
	for i := range sources {
		sources[i] = "203.0.113." + strconv.Itoa(i)
	}
	now := time.Now()
	i := 0
	for b.Loop() {
		if ok, _ := l.allow(sources[i%len(sources)], now); !ok {
			b.Fatal("refused")
		}
		i++
	}
}
