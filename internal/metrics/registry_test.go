package metrics

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func render(t *testing.T, r *Registry) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("b_total", "Counts\\things\nacross lines.", "kind", "code")
	c.Inc("z", "1")
	c.Add(2.5, "a", "2")
	c.Inc("a", "1")
	c.Inc(`q"uote\back`+"\n", "x")
	g := r.NewGauge("a_in_flight", "In flight.")
	g.Add(3)
	g.Add(-1)
	h := r.NewHistogramVec("c_seconds", "Durations.", []float64{0.1, 1}, "tool")
	h.Observe(0.05, "t")
	h.Observe(0.1, "t") // le is inclusive
	h.Observe(0.5, "t")
	h.Observe(7, "t")
	h.Observe(math.NaN(), "u")
	want := `# HELP a_in_flight In flight.
# TYPE a_in_flight gauge
a_in_flight 2
# HELP b_total Counts\\things\nacross lines.
# TYPE b_total counter
b_total{kind="a",code="1"} 1
b_total{kind="a",code="2"} 2.5
b_total{kind="q\"uote\\back\n",code="x"} 1
b_total{kind="z",code="1"} 1
# HELP c_seconds Durations.
# TYPE c_seconds histogram
c_seconds_bucket{tool="t",le="0.1"} 2
c_seconds_bucket{tool="t",le="1"} 3
c_seconds_bucket{tool="t",le="+Inf"} 4
c_seconds_sum{tool="t"} 7.65
c_seconds_count{tool="t"} 4
c_seconds_bucket{tool="u",le="0.1"} 0
c_seconds_bucket{tool="u",le="1"} 0
c_seconds_bucket{tool="u",le="+Inf"} 1
c_seconds_sum{tool="u"} NaN
c_seconds_count{tool="u"} 1
`
	if diff := cmp.Diff(want, render(t, r)); diff != "" {
		t.Errorf("exposition (-want +got):\n%s", diff)
	}
	if got := render(t, r); got != render(t, r) {
		t.Error("output is not deterministic")
	}
}

func TestFormatFloat(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.005, "0.005"}, {1e21, "1e+21"}, {math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"},
	} {
		if got := formatFloat(tc.in); got != tc.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSeriesCap(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("x_total", "x", "id").SetMaxSeries(3)
	for i := range 100 {
		c.Inc(fmt.Sprint("id-", i))
	}
	out := render(t, r)
	if n := strings.Count(out, "x_total{"); n != 4 {
		t.Errorf("%d series, want 3 plus the overflow series:\n%s", n, out)
	}
	if c.Value(Overflow) != 97 {
		t.Errorf("overflow = %v, want 97", c.Value(Overflow))
	}
	// Existing series keep counting after the cap is reached.
	c.Inc("id-0")
	if c.Value("id-0") != 2 {
		t.Errorf("id-0 = %v, want 2", c.Value("id-0"))
	}
	long := strings.Repeat("é", 200)
	c2 := r.NewCounterVec("y_total", "y", "v")
	c2.Inc(long)
	c2.Inc("bad\xff")
	out = render(t, r)
	if strings.Contains(out, long) || !utf8.ValidString(out) {
		t.Errorf("label values not truncated to valid UTF-8:\n%s", out)
	}
	if !strings.Contains(out, `y_total{v="`+strings.Repeat("é", 64)+`"} 1`) {
		t.Errorf("long value not cut at 128 bytes:\n%s", out)
	}
}

func TestRegistrationPanics(t *testing.T) {
	for name, f := range map[string]func(r *Registry){
		"bad name":      func(r *Registry) { r.NewCounterVec("1x", "h") },
		"bad label":     func(r *Registry) { r.NewCounterVec("x_total", "h", "a-b") },
		"reserved le":   func(r *Registry) { r.NewHistogramVec("x", "h", nil, "le") },
		"dup label":     func(r *Registry) { r.NewCounterVec("x_total", "h", "a", "a") },
		"dup family":    func(r *Registry) { r.NewGauge("g", "h"); r.NewGauge("g", "h") },
		"buckets order": func(r *Registry) { r.NewHistogramVec("x", "h", []float64{2, 1}) },
		"arity":         func(r *Registry) { r.NewCounterVec("x_total", "h", "a").Inc() },
		"negative add":  func(r *Registry) { r.NewCounterVec("x_total", "h").Add(-1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(NewRegistry())
		})
	}
}

func TestConcurrent(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("x_total", "x", "k")
	h := r.NewHistogramVec("h_seconds", "h", nil, "k")
	g := r.NewGauge("g", "g")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 1000 {
				k := fmt.Sprint(j % 4)
				c.Inc(k)
				h.Observe(float64(i)/10, k)
				g.Add(1)
				if j%100 == 0 {
					_ = render(t, r)
				}
			}
		})
	}
	wg.Wait()
	var total float64
	var count uint64
	for k := range 4 {
		total += c.Value(fmt.Sprint(k))
		count += h.Count(fmt.Sprint(k))
	}
	if total != 16000 || count != 16000 || g.Value() != 16000 {
		t.Errorf("counter %v, histogram %d, gauge %v; want 16000 each", total, count, g.Value())
	}
}

func TestServeHTTP(t *testing.T) {
	r := NewRegistry()
	r.NewCounterVec("x_total", "x").Inc()
	for _, tc := range []struct {
		method string
		status int
		body   string
	}{
		{http.MethodGet, 200, "# HELP x_total x\n# TYPE x_total counter\nx_total 1\n"},
		{http.MethodHead, 200, ""},
		{http.MethodPost, 405, "method not allowed\n"},
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(tc.method, "/metrics", nil))
		if rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.method, rec.Code, rec.Body, tc.status, tc.body)
		}
		if tc.status == 200 && rec.Header().Get("Content-Type") != ContentType {
			t.Errorf("%s: Content-Type %q", tc.method, rec.Header().Get("Content-Type"))
		}
	}
}
