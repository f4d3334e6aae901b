// Package stdio is the MCP stdio transport: newline-delimited JSON-RPC on a
// reader and a writer, as mcp.StdioTransport, but robust to a bad line.
//
// Why not the go-sdk's own (mcp.StdioTransport / mcp.IOTransport, v1.8.0):
// its reader decodes the stream with one json.Decoder and ends the session
// on the first decoding error, so a single malformed line (garbage, NaN,
// trailing data, a line over the frame limit, nesting over encoding/json's
// 10,000 levels) ends the process with no answer, cancelling every call in
// flight; jsonrpc2.MakeID turns any JSON number into an int64 through
// float64, so an id of 1.5 is answered as 1 and one beyond int64 as
// math.MinInt64; an error without a JSON-RPC code (the SDK's "invalid during
// session initialization") goes out with code 0 (coded here with
// internal/rpcerr, as over HTTP); and a call the client
// cancelled is still answered. Here each line is read with a bounded buffer
// (an oversized line is discarded up to its newline, never held whole),
// checked on its own, and a bad one gets a JSON-RPC error (-32700 parse
// error, -32600 invalid request; id null where the id is unknown or itself
// invalid) while the session goes on.
//
// Whatever ends the input (end of file, a read error, Stop, a failed write
// to a client that stopped reading), Read first waits, up to Drain, for
// every call already read to be answered, so that calls in flight (a
// payment create that reached the provider) finish and record their
// outcome before the session closes. (The go-sdk cancels every call in
// flight on a read or write error.)
package stdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/rpcerr"
)

// DefaultMaxLine is the longest line read when Transport.MaxLine is 0:
// 4 MiB, far above any MCP request this server takes (every string argument
// has a maxLength of at most a few kilobytes).
const DefaultMaxLine = 4 << 20

// Transport is an mcp.Transport over newline-delimited JSON.
type Transport struct {
	In  io.Reader // closed on Close if it is an io.Closer
	Out io.Writer
	// MaxLine is the longest line accepted, in bytes, without its newline;
	// 0 means DefaultMaxLine.
	MaxLine int
	// Drain bounds how long the end of input waits for the answers to the
	// calls already read (an answer that needs the client, such as an
	// elicitation, may never come).
	Drain time.Duration
	// Stop, closed, ends the input as end of file does (a signal).
	Stop <-chan struct{}
	// Log receives one warning per bad line (never its content); nil
	// discards.
	Log *slog.Logger
	// Abandon, if set, names the calls that need not finish once the input
	// has ended through Stop (a signal) or a failed write (the client
	// stopped reading): they are cancelled (as by the client's
	// notifications/cancelled) instead of waited for. For read-only tools:
	// nobody is left to read their answer, and a wait_for_payment would
	// otherwise hold the exit for its whole wait. Calls it does not name (a
	// create that may have reached the provider) are waited for. End of
	// file abandons nothing: a piped client still reads the answers.
	Abandon func(req *jsonrpc.Request) bool
}

// Connect implements mcp.Transport.
func (t *Transport) Connect(context.Context) (mcp.Connection, error) {
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &conn{
		t:         t,
		log:       log,
		lines:     make(chan event),
		closed:    make(chan struct{}),
		broken:    make(chan struct{}),
		pending:   map[string]bool{},
		abandon:   map[string]bool{},
		cancelled: map[string]bool{},
		changed:   make(chan struct{}),
	}
	go c.readLines(c.max())
	return c, nil
}

// event is one line read, or the end of input.
type event struct {
	line     []byte
	tooLong  int // the length of a discarded line, if over the limit
	err      error
	terminal bool
}

type conn struct {
	t   *Transport
	log *slog.Logger

	lines  chan event
	closed chan struct{}
	once   sync.Once

	broken     chan struct{} // closed when a write fails: nobody reads the answers
	brokenOnce sync.Once

	writeMu sync.Mutex // one message per line, whole

	mu        sync.Mutex
	pending   map[string]bool // ids (JSON text) of calls read, not yet answered
	abandon   map[string]bool // pending calls that Transport.Abandon names
	ended     bool            // the input has ended (the end error is endErr)
	endErr    error
	cancelled map[string]bool // pending calls the client cancelled: no answer goes out
	changed   chan struct{}   // closed and replaced whenever pending shrinks
}

// readLines reads the input line by line and hands each to Read. A line
// over limit is discarded as it is read, up to its newline.
func (c *conn) readLines(limit int) {
	r := bufio.NewReaderSize(c.t.In, 64<<10)
	var line []byte
	size := 0 // bytes of the current line read so far, with its end
	for {
		chunk, err := r.ReadSlice('\n')
		size += len(chunk)
		if size <= limit+2 { // room for "\r\n"
			line = append(line, chunk...)
		} else {
			line = nil // over the limit: drop what was kept, keep nothing more
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if size > 0 { // a whole line, or the last one without its newline
			ev := event{line: bytes.TrimRight(line, "\r\n")}
			if n := size - (len(chunk) - len(bytes.TrimRight(chunk, "\r\n"))); n > limit {
				ev = event{tooLong: n}
			}
			if !c.send(ev) {
				return
			}
			line, size = nil, 0
		}
		if err != nil {
			c.send(event{err: err, terminal: true})
			return
		}
	}
}

func (c *conn) send(ev event) bool {
	select {
	case c.lines <- ev:
		return true
	case <-c.closed:
		return false
	}
}

// Read implements mcp.Connection: the next valid message. A bad line is
// answered here and skipped.
func (c *conn) Read(ctx context.Context) (jsonrpc.Message, error) {
	for {
		var ev event
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, io.EOF
		default:
		}
		c.mu.Lock()
		ended, endErr := c.ended, c.endErr
		c.mu.Unlock()
		if ended {
			if msg := c.nextAbandoned(); msg != nil {
				return msg, nil
			}
			return nil, c.end(ctx, endErr)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.closed:
			return nil, io.EOF
		case <-c.t.Stop:
			c.markEnded(io.EOF, true)
			continue
		case <-c.broken:
			c.markEnded(io.EOF, true)
			continue
		case ev = <-c.lines:
		}
		if ev.terminal {
			// A client may close its end after writing its requests and
			// still read the answers (a pipe): end of file abandons
			// nothing.
			c.markEnded(ev.err, false)
			continue
		}
		if ev.tooLong > 0 {
			c.refuse(nil, jsonrpc.CodeParseError, fmt.Sprintf("line of %d bytes is over the %d-byte limit; it was discarded", ev.tooLong, c.max()), "too long")
			continue
		}
		if len(bytes.TrimSpace(ev.line)) == 0 {
			continue // a blank line is no message
		}
		msg, bad := Parse(ev.line)
		if bad != nil {
			c.refuse(bad.ID, bad.Code, bad.Message, bad.Message)
			continue
		}
		if req, ok := msg.(*jsonrpc.Request); ok {
			c.mu.Lock()
			if req.IsCall() {
				key := idKey(req.ID)
				c.pending[key] = true
				if c.t.Abandon != nil && c.t.Abandon(req) {
					c.abandon[key] = true
				}
			} else if req.Method == "notifications/cancelled" {
				if id, ok := cancelledID(req.Params); ok && c.pending[id] {
					c.cancelled[id] = true
				}
			}
			c.mu.Unlock()
		}
		return msg, nil
	}
}

func (c *conn) max() int {
	if c.t.MaxLine > 0 {
		return c.t.MaxLine
	}
	return DefaultMaxLine
}

// markEnded records that the input has ended with err; abandon says
// whether the calls Transport.Abandon names are cancelled (a signal, or a
// client that stopped reading) or still waited for (end of file).
func (c *conn) markEnded(err error, abandon bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		c.ended, c.endErr = true, err
	}
	if !abandon {
		clear(c.abandon)
	}
}

// nextAbandoned returns a notifications/cancelled for one pending call that
// Transport.Abandon named and that is not cancelled yet, or nil. Its answer
// will not be written (the call counts as cancelled by the client).
func (c *conn) nextAbandoned() jsonrpc.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key := range c.abandon {
		delete(c.abandon, key)
		if !c.pending[key] || c.cancelled[key] {
			continue
		}
		c.cancelled[key] = true
		params, err := json.Marshal(struct {
			RequestID json.RawMessage `json:"requestId"`
			Reason    string          `json:"reason"`
		}{json.RawMessage(key), "input ended"})
		if err != nil {
			continue
		}
		return &jsonrpc.Request{Method: "notifications/cancelled", Params: params}
	}
	return nil
}

// end waits for the calls read to be answered, up to Drain, then reports
// the end of input.
func (c *conn) end(ctx context.Context, err error) error {
	deadline := time.NewTimer(c.t.Drain)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		left, ch := len(c.pending), c.changed
		c.mu.Unlock()
		if left == 0 {
			break
		}
		select {
		case <-ch:
			continue
		case <-deadline.C:
			c.log.Warn("stdio: input ended with calls unanswered", "calls", left, "waited", c.t.Drain)
		case <-ctx.Done():
		case <-c.closed:
		}
		break
	}
	return err
}

// refuse answers a bad line with a JSON-RPC error.
func (c *conn) refuse(id json.RawMessage, code int64, message, reason string) {
	c.log.Warn("stdio: bad input line", "code", code, "reason", reason)
	if err := c.writeError(id, &jsonrpc.Error{Code: code, Message: message}); err != nil {
		c.log.Warn("stdio: write", "error", err)
	}
}

// writeError writes an error answer; a nil id is written as null.
func (c *conn) writeError(id json.RawMessage, e error) error {
	if e == nil {
		e = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "internal error"}
	}
	var we *jsonrpc.Error
	if !errors.As(rpcerr.Coded(e), &we) {
		return nil
	}
	if id == nil {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   jsonrpc.Error   `json:"error"`
	}{"2.0", id, *we})
	if err != nil {
		return fmt.Errorf("stdio: encode error: %w", err)
	}
	return c.writeLine(b)
}

// Write implements mcp.Connection.
func (c *conn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if resp, ok := msg.(*jsonrpc.Response); ok {
		key := idKey(resp.ID)
		c.mu.Lock()
		drop := c.cancelled[key]
		if c.pending[key] {
			delete(c.pending, key)
			delete(c.cancelled, key)
			delete(c.abandon, key)
			close(c.changed)
			c.changed = make(chan struct{})
		}
		c.mu.Unlock()
		if drop {
			// The client cancelled the call: per the MCP spec it gets no
			// answer.
			return nil
		}
		if resp.Error != nil {
			resp.Error = rpcerr.Coded(resp.Error)
		}
		if !resp.ID.IsValid() {
			// The go-sdk leaves the id out of its answer to a call whose id
			// was already in use; JSON-RPC wants null there.
			return c.writeError(nil, resp.Error)
		}
	}
	b, err := jsonrpc.EncodeMessage(msg)
	if err != nil {
		return fmt.Errorf("stdio: encode message: %w", err)
	}
	return c.writeLine(b)
}

// writeLine writes one message. A failed write (the client closed its end)
// ends the input like end of file does, and is not reported to the go-sdk:
// its connection would cancel every call in flight on a write error, and a
// create cancelled mid-request cannot know its outcome. The calls finish
// instead, their answers going nowhere, and record what happened.
func (c *conn) writeLine(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	select {
	case <-c.broken:
		return nil
	default:
	}
	if _, err := c.t.Out.Write(append(b, '\n')); err != nil {
		c.brokenOnce.Do(func() {
			c.log.Warn("stdio: output closed; finishing the calls in flight", "error", err)
			close(c.broken)
		})
	}
	return nil
}

// Close implements mcp.Connection.
func (c *conn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.closed)
		if cl, ok := c.t.In.(io.Closer); ok {
			err = cl.Close()
		}
	})
	return err
}

// SessionID implements mcp.Connection: stdio has no session id.
func (c *conn) SessionID() string { return "" }

// idKey is an id's canonical JSON text, the same for a request read and
// its answer.
func idKey(id jsonrpc.ID) string {
	b, _ := json.Marshal(id.Raw())
	return string(b)
}

// cancelledID reads notifications/cancelled's requestId as idKey would
// write it.
func cancelledID(params json.RawMessage) (string, bool) {
	var p struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(params, &p) != nil || len(p.RequestID) == 0 {
		return "", false
	}
	id, ok := rpcerr.ID(p.RequestID)
	if !ok {
		return "", false
	}
	v, err := jsonrpc.MakeID(id)
	if err != nil {
		return "", false
	}
	return idKey(v), true
}

// Bad is why a line is refused: the JSON-RPC error to answer it with.
type Bad struct {
	ID      json.RawMessage // the request's id when it was valid; nil answers with null
	Code    int64
	Message string
}

// Parse checks one line and decodes it. A line that is not one JSON value
// is a parse error; a JSON value that is not one valid JSON-RPC 2.0 request,
// notification or response (a batch, an invalid id, a wrong version) is an
// invalid request.
func Parse(line []byte) (jsonrpc.Message, *Bad) {
	if !json.Valid(line) {
		return nil, &Bad{Code: jsonrpc.CodeParseError, Message: "parse error: the line is not one JSON value (this is an MCP server: it reads JSON-RPC messages, one per line, from an MCP client)"}
	}
	line = bytes.TrimSpace(line)
	switch line[0] {
	case '{':
	case '[':
		return nil, &Bad{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: JSON-RPC batches are not supported (MCP 2025-06-18 and later): send one message per line"}
	default:
		return nil, &Bad{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: a message must be a JSON object"}
	}
	f, err := members(line)
	if err != nil {
		return nil, &Bad{Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: " + err.Error()}
	}
	w := struct{ JSONRPC, ID, Method, Params, Result, Error json.RawMessage }{
		f["jsonrpc"], f["id"], f["method"], f["params"], f["result"], f["error"],
	}
	var id json.RawMessage // the id to answer with: only a valid one
	if w.ID != nil {
		if _, ok := rpcerr.ID(w.ID); !ok {
			return nil, &Bad{Code: jsonrpc.CodeInvalidRequest, Message: rpcerr.InvalidIDMessage}
		}
		id = w.ID
	}
	invalid := func(why string) *Bad {
		return &Bad{ID: id, Code: jsonrpc.CodeInvalidRequest, Message: "invalid request: " + why}
	}
	if string(w.JSONRPC) != `"2.0"` {
		return nil, invalid(`jsonrpc must be "2.0"`)
	}
	if w.Method != nil {
		var m string
		if json.Unmarshal(w.Method, &m) != nil || m == "" {
			return nil, invalid("method must be a non-empty string")
		}
		if w.Params != nil && !isNull(w.Params) && w.Params[0] != '{' && w.Params[0] != '[' {
			return nil, invalid("params must be an object")
		}
		if w.Result != nil || w.Error != nil {
			return nil, invalid("a request has no result or error")
		}
	} else {
		if id == nil {
			return nil, invalid("a response needs an id, a request a method")
		}
		if (w.Result != nil) == (w.Error != nil) {
			return nil, invalid("a response has exactly one of result and error")
		}
		if w.Error != nil && (w.Error[0] != '{' || json.Unmarshal(w.Error, new(jsonrpc.Error)) != nil) {
			return nil, invalid("error must be an object with a code and a message")
		}
	}
	msg, err := jsonrpc.DecodeMessage(line)
	if err != nil {
		return nil, invalid("not a JSON-RPC message")
	}
	return msg, nil
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

// members reads the JSON-RPC members of a JSON object by their exact names,
// as the go-sdk decodes them (encoding/json would also take "ID" or
// "Method"), refusing a member given twice.
func members(obj []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		return nil, fmt.Errorf("a message must be a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("a message must be a JSON object")
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("a message must be a JSON object")
		}
		switch key {
		case "jsonrpc", "id", "method", "params", "result", "error":
			if _, dup := out[key]; dup {
				return nil, fmt.Errorf("member %q given twice", key)
			}
			out[key] = v
		}
	}
	return out, nil
}
