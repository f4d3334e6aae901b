package fakebitnovo

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Response shapes a Fault can force on E1–E4 answers.
const (
	ShapeBare          = "bare"           // the object itself (E2: not in an array)
	ShapeWrapped       = "wrapped"        // {"status":"success","data":X}
	ShapeArray         = "array"          // [X]
	ShapeErrorWrapper  = "error_wrapper"  // 200 {"status":"error","error":"..."}; the request is not processed
	ShapeStringAmounts = "string_amounts" // every amount as decimal text
	ShapeNumberAmounts = "number_amounts" // every amount as a JSON number
)

func validShape(s string) bool {
	switch s {
	case "", ShapeBare, ShapeWrapped, ShapeArray, ShapeErrorWrapper, ShapeStringAmounts, ShapeNumberAmounts:
		return true
	}
	return false
}

// Fault changes how the fake answers matching requests. Faults are tried in
// the order they were added; the first match applies.
//
// If Status or Body is set, the fault's answer replaces the real one and the
// request is not processed (no order is created). Otherwise the request is
// processed normally (with Shape applied) and Delay holds back the answer:
// a delayed POST /api/v1/orders/ still creates the order.
type Fault struct {
	Method     string        // "" = any
	Path       string        // prefix of r.URL.Path; "" = any /api/ path
	Status     int           // 0 = don't change the status
	Body       string        // raw body; default {"detail","code","message"}
	RetryAfter string        // Retry-After header value
	Delay      time.Duration // wait before answering; stops if the client goes away
	Times      int           // how many requests it applies to; 0 = until cleared
	Shape      string        // see the Shape constants
}

// faultJSON is Fault as the admin surface exchanges it.
type faultJSON struct {
	Method     string `json:"method"`
	Path       string `json:"path"`
	Status     int    `json:"status"`
	Body       string `json:"body"`
	RetryAfter string `json:"retry_after"`
	DelayMS    int64  `json:"delay_ms"`
	Times      int    `json:"times"`
	Shape      string `json:"shape"`
}

const maxFaultDelay = 10 * time.Minute

func (j faultJSON) fault() (Fault, error) {
	switch {
	case j.Status != 0 && (j.Status < 100 || j.Status > 599):
		return Fault{}, fmt.Errorf("status %d out of range", j.Status)
	case j.DelayMS < 0 || time.Duration(j.DelayMS)*time.Millisecond > maxFaultDelay:
		return Fault{}, fmt.Errorf("delay_ms %d out of range [0, %d]", j.DelayMS, maxFaultDelay.Milliseconds())
	case j.Times < 0:
		return Fault{}, fmt.Errorf("times %d is negative", j.Times)
	case !validShape(j.Shape):
		return Fault{}, fmt.Errorf("unknown shape %q", j.Shape)
	}
	return Fault{
		Method:     j.Method,
		Path:       j.Path,
		Status:     j.Status,
		Body:       j.Body,
		RetryAfter: j.RetryAfter,
		Delay:      time.Duration(j.DelayMS) * time.Millisecond,
		Times:      j.Times,
		Shape:      j.Shape,
	}, nil
}

func (f Fault) toJSON() faultJSON {
	return faultJSON{
		Method: f.Method, Path: f.Path, Status: f.Status, Body: f.Body, RetryAfter: f.RetryAfter,
		DelayMS: f.Delay.Milliseconds(), Times: f.Times, Shape: f.Shape,
	}
}

type faultState struct {
	Fault
	left int // remaining applications when Times > 0
}

func (f *Fault) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	if f.Path == "" {
		return strings.HasPrefix(r.URL.Path, "/api/")
	}
	return strings.HasPrefix(r.URL.Path, f.Path)
}

// AddFault appends f to the fault list.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: f.Times})
}

// ClearFaults removes all faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Faults returns the active faults (Times shows the remaining count).
func (s *Server) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, f := range s.faults {
		c := f.Fault
		if c.Times > 0 {
			c.Times = f.left
		}
		out = append(out, c)
	}
	return out
}

// takeFault returns the first fault matching r and consumes one of its
// applications.
func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !f.matches(r) {
			continue
		}
		if f.Times > 0 {
			f.left--
			if f.left <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// replaces reports whether the fault answers instead of the real handler.
func (f *Fault) replaces() bool {
	return f.Status != 0 || f.Body != "" || f.Shape == ShapeErrorWrapper
}

// serveFault writes the fault's own answer.
func serveFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if !sleep(r.Context(), f.Delay) {
		return
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	if f.Shape == ShapeErrorWrapper && status < 300 {
		writeJSON(w, status, map[string]string{"status": "error", "error": "Simulated upstream error"})
		return
	}
	code, msg := defaultFaultText(status)
	writeError(w, status, code, msg)
}

func defaultFaultText(status int) (code, message string) {
	switch status {
	case http.StatusTooManyRequests:
		return "THROTTLED", "Request was throttled."
	case http.StatusNotFound:
		return "NOT_FOUND", "Not found."
	case http.StatusMethodNotAllowed:
		return "METHOD_NOT_ALLOWED", "Method not allowed."
	case http.StatusServiceUnavailable:
		return "SERVICE_UNAVAILABLE", "Service temporarily unavailable, try again later."
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Simulated fault"
	}
	return fmt.Sprintf("HTTP_%d", status), text
}

// sleep waits d, returning false if ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// bufferedWriter holds a response so that a delayed answer can be produced
// first and sent later.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedWriter() *bufferedWriter {
	return &bufferedWriter{header: make(http.Header)}
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedWriter) flushTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
