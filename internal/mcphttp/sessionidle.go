package mcphttp

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// sessionIdle closes a 2025-11-25 session that has had no request open for
// its timeout. The go-sdk's own SessionTimeout counts POSTs only, so it
// closed sessions whose client was listening on the standalone GET stream
// for resources/updated and sending nothing, as a push subscriber does.
// Here every request of the session counts, the GET stream included, for
// as long as it is open: a session is idle from the moment its last
// request ends.
//
// A session is closed the way its client would close it: a DELETE through
// the go-sdk handler, in the context (and so with the OAuth identity) of
// the session's last request.
type sessionIdle struct {
	timeout time.Duration
	next    http.Handler // the go-sdk's stateful handler

	mu       sync.Mutex
	sessions map[string]*idleSession
}

type idleSession struct {
	open  int             // requests of the session in progress
	timer *time.Timer     // runs while open == 0
	ctx   context.Context // of the last request: its values, no deadline
}

func newSessionIdle(timeout time.Duration, next http.Handler) *sessionIdle {
	return &sessionIdle{timeout: timeout, next: next, sessions: map[string]*idleSession{}}
}

func (s *sessionIdle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(headerSessionID)
	if id != "" {
		s.begin(id, r)
	}
	sw := &statusWriter{ResponseWriter: w}
	s.next.ServeHTTP(sw, r)
	switch {
	case id == "":
		// A new session, if the go-sdk opened one: idle from now.
		if created := sw.Header().Get(headerSessionID); created != "" && sw.status < 300 {
			s.begin(created, r)
			s.end(created)
		}
	case r.Method == http.MethodDelete || sw.status == http.StatusNotFound:
		s.forget(id) // closed by its client, or not (or no longer) open
	default:
		s.end(id)
	}
}

func (s *sessionIdle) begin(id string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.sessions[id]
	if e == nil {
		e = &idleSession{}
		s.sessions[id] = e
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.open++
	e.ctx = context.WithoutCancel(r.Context())
}

func (s *sessionIdle) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.sessions[id]
	if e == nil {
		return
	}
	if e.open--; e.open > 0 {
		return
	}
	if e.timer == nil {
		e.timer = time.AfterFunc(s.timeout, func() { s.expire(id, e) })
	} else {
		e.timer.Reset(s.timeout)
	}
}

func (s *sessionIdle) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.sessions[id]; e != nil {
		if e.timer != nil {
			e.timer.Stop()
		}
		delete(s.sessions, id)
	}
}

// expire closes session id if e is still its idle entry.
func (s *sessionIdle) expire(id string, e *idleSession) {
	s.mu.Lock()
	if s.sessions[id] != e || e.open > 0 {
		s.mu.Unlock()
		return
	}
	delete(s.sessions, id)
	ctx := e.ctx
	s.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "/", nil)
	if err != nil {
		return
	}
	req.Header.Set(headerSessionID, id)
	s.next.ServeHTTP(discardWriter{header: http.Header{}}, req)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// discardWriter is the response writer of a request the server makes to
// itself.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}
