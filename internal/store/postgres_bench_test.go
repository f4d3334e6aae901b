package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchCallers is how many goroutines call SaveEvent at once; benchRate is
// the offered load of the paced runs.
const (
	benchCallers = 64
	benchRate    = 2000
)

// BenchmarkPostgresSaveEventParallel: 64 goroutines calling SaveEvent, each
// call a new event (a webhook-sized body) with its own replay key,
// committed durably (synchronous_commit stays on). It reports events/s and
// the latency percentiles of one call.
//
//   - max: closed loop, every caller calls again as soon as it has its
//     answer, so events/s is the most the store does (and the latency is
//     64 / that rate, by Little's law);
//   - rate=2000: open loop, the 64 callers together start 2,000 calls a
//     second on a fixed schedule, and latency counts from the scheduled
//     start (no coordinated omission; it includes the caller's own wake-up
//     delay); call-p99-ms counts from the actual call.
//
// "batched" is the store as shipped; "unbatched" sends every call as its
// own transaction, for comparison.
//
//	eval "$(bash .ci/postgres.sh start)"
//	go test -run '^$' -bench PostgresSaveEventParallel -benchtime 20000x ./internal/store/
func BenchmarkPostgresSaveEventParallel(b *testing.B) {
	for _, load := range []string{"max", "rate=" + strconv.Itoa(benchRate)} {
		for _, mode := range []string{"batched", "unbatched"} {
			b.Run(load+"/"+mode, func(b *testing.B) {
				// Enough connections for every caller when unbatched.
				url := postgresTestURL(b)
				if strings.Contains(url, "://") {
					url += "&pool_max_conns=" + strconv.Itoa(benchCallers+8)
				} else {
					url += " pool_max_conns=" + strconv.Itoa(benchCallers+8)
				}
				s, err := OpenPostgres(b.Context(), url)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = s.Close() })
				s.unbatched = mode == "unbatched"
				if load == "max" {
					benchSaveClosed(b, s)
				} else {
					benchSavePaced(b, s, benchRate)
				}
			})
		}
	}
}

// benchEvents makes distinct events.
type benchEvents struct {
	run  string
	next atomic.Int64
}

func (g *benchEvents) event() (Event, string) {
	i := g.next.Add(1)
	nonce := g.run + "-" + strconv.FormatInt(i, 10)
	body := fmt.Sprintf(`{"identifier":"pay-%d","status":"CO","confirmed_amount":"0.00123","crypto_amount":"0.00123","nonce":%q}`, i%1000, nonce)
	sum := sha256.Sum256([]byte(body))
	return Event{Identifier: fmt.Sprint("pay-", i%1000), Status: "CO", Nonce: nonce, Validated: true,
		Payload: []byte(body), BodyHash: hex.EncodeToString(sum[:])}, "nonce:" + nonce
}

func benchSaveClosed(b *testing.B, s *Postgres) {
	ctx := context.Background()
	gen := &benchEvents{run: randomHex(4)}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, benchCallers/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		mine := make([]time.Duration, 0, 1024)
		for pb.Next() {
			e, key := gen.event()
			t0 := time.Now()
			if _, err := s.SaveEvent(ctx, e, key, t0.Add(10*time.Minute)); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	reportLatencies(b, lat, time.Since(start))
}

func benchSavePaced(b *testing.B, s *Postgres, rate int) {
	ctx := context.Background()
	gen := &benchEvents{run: randomHex(4)}
	every := time.Second / time.Duration(rate)
	lat := make([]time.Duration, b.N)  // from the scheduled start
	call := make([]time.Duration, b.N) // from the actual call
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for c := range benchCallers {
		wg.Go(func() {
			for k := c; k < b.N; k += benchCallers {
				due := start.Add(time.Duration(k) * every)
				time.Sleep(time.Until(due))
				e, key := gen.event()
				t0 := time.Now()
				if _, err := s.SaveEvent(ctx, e, key, due.Add(10*time.Minute)); err != nil {
					b.Error(err)
					return
				}
				lat[k], call[k] = time.Since(due), time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(call)
	b.ReportMetric(float64(call[min(len(call)-1, len(call)*99/100)].Microseconds())/1000, "call-p99-ms")
	reportLatencies(b, lat, elapsed)
}

func reportLatencies(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
	b.ReportMetric(0, "ns/op") // the rate says it better
}
