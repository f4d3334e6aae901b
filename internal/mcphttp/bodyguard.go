package mcphttp

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"time"
)

// DefaultBodyReadTimeout bounds how long a client may take to send a
// request body. It replaces http.Server.ReadTimeout, which cannot be used
// here: once a body is read, net/http keeps a read pending on the
// connection, and ReadTimeout would fail that read and cancel the request
// context of every tool call or SSE stream that outlives it.
const DefaultBodyReadTimeout = 30 * time.Second

// unreadBodyGrace is how long the rest of a body a handler did not read
// (a 401, a 404) may take to arrive: net/http reads up to 256 KiB of it
// after the handler, to reuse the connection.
const unreadBodyGrace = time.Second

// guardBody bounds the time a request body may take to arrive, on every
// path: a read deadline is set before the handler runs and lifted only
// when the body has been read to its end. A client that announces a body
// and never sends it is cut off when the deadline passes, and the
// deadline stays, so net/http's read of what the handler left unread
// fails too and the connection is closed (the old deadline lifted itself
// on its own timeout, after which that read waited forever). The body of
// a request the handler does not read gets unreadBodyGrace after the
// handler returns.
//
// It also tells the connection (a Listener's) when the request is being
// served with its body read, which CutReads at shutdown leaves alone. The
// returned func ends the request; call it when the handler returns.
func (h *Handler) guardBody(w http.ResponseWriter, r *http.Request) (*http.Request, func()) {
	c := connFrom(r.Context())
	if r.Body == nil || r.Body == http.NoBody {
		c.serve(1)
		return r, func() { c.serve(-1) }
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(h.bodyTO)
	if rc.SetReadDeadline(deadline) != nil {
		return r, func() {} // not a real connection (tests)
	}
	b := &deadlineBody{ReadCloser: r.Body, rc: rc, conn: c, observe: h.observe}
	r.Body = b
	return r, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch {
		case b.eof:
			c.serve(-1)
		case !b.failed:
			// The handler did not read the body to its end.
			if d := time.Now().Add(unreadBodyGrace); d.Before(deadline) {
				_ = rc.SetReadDeadline(d)
			}
		}
	}
}

// deadlineBody lifts the body read deadline once the body has been read to
// its end; a failed read (the deadline passed) leaves it in place.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	conn    *limitedConn
	observe func(string)

	mu     sync.Mutex
	eof    bool
	failed bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == nil {
		return n, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.eof || b.failed:
	case errors.Is(err, io.EOF):
		b.eof = true
		// Serving from here on: a shutdown's CutReads leaves the
		// connection alone, and net/http's pending read on it (how it
		// notices a client going away) may wait as long as the handler runs.
		b.conn.serve(1)
		_ = b.rc.SetReadDeadline(time.Time{})
	default:
		b.failed = true
		if errors.Is(err, os.ErrDeadlineExceeded) && !b.conn.isCut() { // not a shutdown
			b.observe(LimitBodyTimeout)
		}
	}
	return n, err
}
