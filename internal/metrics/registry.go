// Package metrics is a small Prometheus registry with no dependencies:
// counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4.
//
// Output is deterministic: families sorted by name, series sorted by label
// values. Every vector caps its number of series (MaxSeries); label
// combinations past the cap are counted in one series whose labels all say
// "_overflow_", so a caller passing unbounded values (ids, user input)
// cannot grow memory without limit. Everything is safe for concurrent use.
package metrics

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// ContentType is the media type of the text exposition format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// DefaultMaxSeries bounds the series of one vector unless set otherwise.
const DefaultMaxSeries = 256

// Overflow is the label value of the series that absorbs label
// combinations past a vector's cap.
const Overflow = "_overflow_"

// maxLabelValueLen truncates label values (in bytes).
const maxLabelValueLen = 128

var (
	nameRE  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// Registry holds metric families and renders them.
type Registry struct {
	mu       sync.Mutex
	families map[string]collector
}

// collector is one metric family.
type collector interface {
	write(b *bytes.Buffer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]collector{}} }

func (r *Registry) register(name, help string, labels []string, c collector) {
	if !nameRE.MatchString(name) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", name))
	}
	seen := map[string]bool{}
	for _, l := range labels {
		if !labelRE.MatchString(l) || strings.HasPrefix(l, "__") || l == "le" || seen[l] {
			panic(fmt.Sprintf("metrics: %s: invalid or duplicate label name %q", name, l))
		}
		seen[l] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[name]; dup {
		panic(fmt.Sprintf("metrics: %s registered twice", name))
	}
	r.families[name] = c
}

// WriteTo renders every family in the text exposition format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	fams := make([]collector, 0, len(names))
	slices.Sort(names)
	for _, n := range names {
		fams = append(fams, r.families[n])
	}
	r.mu.Unlock()
	var b bytes.Buffer
	for _, f := range fams {
		f.write(&b)
	}
	return b.WriteTo(w)
}

// ServeHTTP serves the exposition (GET and HEAD only).
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var b bytes.Buffer
	_, _ = r.WriteTo(&b)
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	if req.Method == http.MethodHead {
		return
	}
	_, _ = b.WriteTo(w)
}

// vec is the label bookkeeping shared by counters and histograms.
type vec[S any] struct {
	name, help, typ string
	labels          []string
	max             int
	newSeries       func() *S

	mu     sync.Mutex
	series map[string]*entry[S]
}

type entry[S any] struct {
	values []string
	s      *S
}

func newVec[S any](name, help, typ string, labels []string, newSeries func() *S) *vec[S] {
	return &vec[S]{name: name, help: help, typ: typ, labels: slices.Clone(labels), max: DefaultMaxSeries,
		newSeries: newSeries, series: map[string]*entry[S]{}}
}

// get returns the series of values, creating it (or the overflow series).
func (v *vec[S]) get(values []string) *S {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %s: got %d label values, want %d", v.name, len(values), len(v.labels)))
	}
	vals := make([]string, len(values))
	for i, s := range values {
		vals[i] = cleanValue(s)
	}
	key := strings.Join(vals, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.series[key]; ok {
		return e.s
	}
	if len(v.series) >= v.max {
		for i := range vals {
			vals[i] = Overflow
		}
		key = strings.Join(vals, "\xff")
		if e, ok := v.series[key]; ok {
			return e.s
		}
	}
	e := &entry[S]{values: vals, s: v.newSeries()}
	v.series[key] = e
	return e.s
}

// cleanValue makes a label value valid UTF-8 of at most maxLabelValueLen
// bytes, cut at a rune boundary.
func cleanValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxLabelValueLen {
		return s
	}
	s = s[:maxLabelValueLen]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// sorted returns the series ordered by label values.
func (v *vec[S]) sorted() []*entry[S] {
	v.mu.Lock()
	out := make([]*entry[S], 0, len(v.series))
	for _, e := range v.series {
		out = append(out, e)
	}
	v.mu.Unlock()
	slices.SortFunc(out, func(a, b *entry[S]) int { return slices.Compare(a.values, b.values) })
	return out
}

func (v *vec[S]) header(b *bytes.Buffer) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", v.name, escapeHelp(v.help), v.name, v.typ)
}

// writeLabels writes {a="x",b="y"} (nothing when there are no labels),
// with extra appended (for le).
func writeLabels(b *bytes.Buffer, names, values []string, extraName, extraValue string) {
	if len(names) == 0 && extraName == "" {
		return
	}
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(values[i]))
		b.WriteByte('"')
	}
	if extraName != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extraName)
		b.WriteString(`="`)
		b.WriteString(extraValue)
		b.WriteByte('"')
	}
	b.WriteByte('}')
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// formatFloat renders a sample value as the exposition format expects.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// atomicFloat is a float64 updated with compare-and-swap.
type atomicFloat struct{ bits atomic.Uint64 }

func (a *atomicFloat) add(d float64) {
	for {
		old := a.bits.Load()
		if a.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

func (a *atomicFloat) set(f float64) { a.bits.Store(math.Float64bits(f)) }
func (a *atomicFloat) load() float64 { return math.Float64frombits(a.bits.Load()) }

// CounterVec is a family of counters with labels.
type CounterVec struct{ v *vec[atomicFloat] }

// NewCounterVec registers a counter family. The name should end in _total.
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{v: newVec(name, help, "counter", labels, func() *atomicFloat { return new(atomicFloat) })}
	r.register(name, help, labels, c)
	return c
}

// SetMaxSeries changes the series cap (call before use).
func (c *CounterVec) SetMaxSeries(n int) *CounterVec { c.v.max = max(n, 1); return c }

// Inc adds 1 to the series of labelValues.
func (c *CounterVec) Inc(labelValues ...string) { c.Add(1, labelValues...) }

// Add adds d (which must not be negative) to the series of labelValues.
func (c *CounterVec) Add(d float64, labelValues ...string) {
	if d < 0 || math.IsNaN(d) {
		panic("metrics: counters only go up")
	}
	c.v.get(labelValues).add(d)
}

// Init creates the series of labelValues at zero, so it is exported before
// its first event.
func (c *CounterVec) Init(labelValues ...string) { c.v.get(labelValues) }

// Value returns the current value of a series (0 if absent), for tests.
func (c *CounterVec) Value(labelValues ...string) float64 {
	key := strings.Join(labelValues, "\xff")
	c.v.mu.Lock()
	defer c.v.mu.Unlock()
	if e, ok := c.v.series[key]; ok {
		return e.s.load()
	}
	return 0
}

func (c *CounterVec) write(b *bytes.Buffer) {
	c.v.header(b)
	for _, e := range c.v.sorted() {
		b.WriteString(c.v.name)
		writeLabels(b, c.v.labels, e.values, "", "")
		b.WriteByte(' ')
		b.WriteString(formatFloat(e.s.load()))
		b.WriteByte('\n')
	}
}

// Gauge is a single value that goes up and down.
type Gauge struct {
	name, help string
	v          atomicFloat
}

// NewGauge registers a gauge without labels.
func (r *Registry) NewGauge(name, help string) *Gauge {
	g := &Gauge{name: name, help: help}
	r.register(name, help, nil, g)
	return g
}

// Add adds d (may be negative).
func (g *Gauge) Add(d float64) { g.v.add(d) }

// Set sets the value.
func (g *Gauge) Set(f float64) { g.v.set(f) }

// Value returns the current value.
func (g *Gauge) Value() float64 { return g.v.load() }

func (g *Gauge) write(b *bytes.Buffer) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.name, escapeHelp(g.help), g.name, g.name, formatFloat(g.v.load()))
}

// HistogramVec is a family of histograms with labels.
type HistogramVec struct {
	v       *vec[histogram]
	buckets []float64 // upper bounds, ascending, without +Inf
}

type histogram struct {
	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

// DefBuckets suit request latencies in seconds, from 5 ms to 60 s.
var DefBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewHistogramVec registers a histogram family with the given bucket upper
// bounds (ascending; +Inf is implied).
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if len(buckets) == 0 {
		buckets = DefBuckets
	}
	if !slices.IsSorted(buckets) || slices.ContainsFunc(buckets, func(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }) {
		panic(fmt.Sprintf("metrics: %s: buckets must be finite and ascending", name))
	}
	bs := slices.Compact(slices.Clone(buckets))
	h := &HistogramVec{buckets: bs}
	h.v = newVec(name, help, "histogram", labels, func() *histogram { return &histogram{counts: make([]uint64, len(bs)+1)} })
	r.register(name, help, labels, h)
	return h
}

// SetMaxSeries changes the series cap (call before use).
func (h *HistogramVec) SetMaxSeries(n int) *HistogramVec { h.v.max = max(n, 1); return h }

// Observe records one value in the series of labelValues.
func (h *HistogramVec) Observe(f float64, labelValues ...string) {
	s := h.v.get(labelValues)
	i, _ := slices.BinarySearch(h.buckets, f) // first bound >= f
	if math.IsNaN(f) {
		i = len(h.buckets)
	}
	s.mu.Lock()
	s.counts[i]++
	s.sum += f
	s.count++
	s.mu.Unlock()
}

// Count returns the number of observations of a series, for tests.
func (h *HistogramVec) Count(labelValues ...string) uint64 {
	key := strings.Join(labelValues, "\xff")
	h.v.mu.Lock()
	e, ok := h.v.series[key]
	h.v.mu.Unlock()
	if !ok {
		return 0
	}
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	return e.s.count
}

func (h *HistogramVec) write(b *bytes.Buffer) {
	h.v.header(b)
	for _, e := range h.v.sorted() {
		e.s.mu.Lock()
		counts := slices.Clone(e.s.counts)
		sum, count := e.s.sum, e.s.count
		e.s.mu.Unlock()
		var cum uint64
		for i, c := range counts {
			cum += c
			le := "+Inf"
			if i < len(h.buckets) {
				le = formatFloat(h.buckets[i])
			}
			b.WriteString(h.v.name)
			b.WriteString("_bucket")
			writeLabels(b, h.v.labels, e.values, "le", le)
			b.WriteByte(' ')
			b.WriteString(strconv.FormatUint(cum, 10))
			b.WriteByte('\n')
		}
		b.WriteString(h.v.name)
		b.WriteString("_sum")
		writeLabels(b, h.v.labels, e.values, "", "")
		b.WriteByte(' ')
		b.WriteString(formatFloat(sum))
		b.WriteByte('\n')
		b.WriteString(h.v.name)
		b.WriteString("_count")
		writeLabels(b, h.v.labels, e.values, "", "")
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(count, 10))
		b.WriteByte('\n')
	}
}
