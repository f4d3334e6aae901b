package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"
)

// drain lets the answers to requests already read go out after stdin
// ends. A client may write its requests and close its end at once
// (`echo '{…"initialize"…}' | cryptopay-mcp`); the go-sdk ends the session
// at end of input and would drop those answers. Wrapped around stdin, the
// end of input is held back until every request read has been answered
// on stdout, or until the wait bound passes (an answer that needs the
// client, such as an elicitation, never comes).
type drain struct {
	ctx  context.Context // a signal ends the wait too
	wait time.Duration

	mu      sync.Mutex
	pending map[string]bool // ids of requests read and not yet answered
	changed chan struct{}   // closed and replaced whenever pending shrinks
	inBuf   []byte          // an incomplete line read
	outBuf  []byte          // an incomplete line written
	held    bool            // the reader saw the end of input
}

func newDrain(ctx context.Context, wait time.Duration) *drain {
	return &drain{ctx: ctx, wait: wait, pending: map[string]bool{}, changed: make(chan struct{})}
}

// Reader wraps r: it notes the requests read and holds back its end.
func (d *drain) Reader(r io.Reader) io.Reader { return &drainReader{d: d, r: r} }

// Writer wraps w: it notes the answers written.
func (d *drain) Writer(w io.Writer) io.Writer { return &drainWriter{d: d, w: w} }

type drainReader struct {
	d *drain
	r io.Reader
}

func (dr *drainReader) Read(p []byte) (int, error) {
	d := dr.d
	n, err := dr.r.Read(p)
	d.mu.Lock()
	eachLine(&d.inBuf, p[:n], func(line []byte) {
		// A subscriptions/listen is answered only when it ends, which
		// may be never: the end of input does not wait for it.
		if id, isRequest, method := message(line); isRequest && id != "" && method != "subscriptions/listen" {
			d.pending[id] = true
		}
	})
	d.mu.Unlock()
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	if n > 0 {
		return n, nil // the end comes with the next call
	}
	deadline := time.After(d.wait)
	for {
		d.mu.Lock()
		left, ch := len(d.pending), d.changed
		d.mu.Unlock()
		if left == 0 {
			return 0, io.EOF
		}
		select {
		case <-ch:
		case <-deadline:
			return 0, io.EOF
		case <-d.ctx.Done():
			return 0, io.EOF
		}
	}
}

type drainWriter struct {
	d *drain
	w io.Writer
}

func (dw *drainWriter) Write(p []byte) (int, error) {
	n, err := dw.w.Write(p)
	d := dw.d
	d.mu.Lock()
	shrank := false
	eachLine(&d.outBuf, p[:n], func(line []byte) {
		if id, isRequest, _ := message(line); !isRequest && id != "" && d.pending[id] {
			delete(d.pending, id)
			shrank = true
		}
	})
	if shrank {
		close(d.changed)
		d.changed = make(chan struct{})
	}
	d.mu.Unlock()
	return n, err
}

// eachLine calls f for every line completed by p, prefixing the
// incomplete line kept in *rest, and keeps p's own incomplete end there.
// Whole lines of p are not copied.
func eachLine(rest *[]byte, p []byte, f func([]byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			*rest = append(*rest, p...)
			return
		}
		line := p[:i]
		if len(*rest) > 0 {
			line = append(*rest, line...)
			*rest = nil
		}
		f(line)
		p = p[i+1:]
	}
}

// message reads a JSON-RPC message's id (as its JSON text), whether it
// is a request (it has a method) and the method, stopping as soon as they
// are known: an answer's id comes before its (possibly large) result.
func message(line []byte) (id string, isRequest bool, method string) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false, ""
	}
	var sawMethod, sawOther bool
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false, ""
		}
		key, _ := t.(string)
		switch key {
		case "id":
			var raw json.RawMessage
			if dec.Decode(&raw) != nil {
				return "", false, ""
			}
			id = string(raw)
		case "method":
			sawMethod = true
			if dec.Decode(&method) != nil {
				return "", false, ""
			}
		case "result", "error":
			sawOther = true
		default:
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return "", false, ""
			}
			continue
		}
		if id != "" && (sawMethod || sawOther) {
			break
		}
		if sawOther {
			// An answer whose id comes after its result: read on.
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return "", false, ""
			}
		}
	}
	if id == "null" {
		id = ""
	}
	return id, sawMethod, method
}
