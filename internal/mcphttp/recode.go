package mcphttp

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/rpcerr"
)

// recodeWriter gives every JSON-RPC error answer the go-sdk's HTTP handler
// writes a code (rpcerr.Recode): the go-sdk answers a call sent before
// initialize, and any error that is not a *jsonrpc.Error, with code 0.
// internal/stdio does the same on its connection; over HTTP the go-sdk
// builds the connection itself, so the answer is fixed in the bytes.
//
// The go-sdk writes each message in one Write: a whole application/json
// body, or a whole server-sent event ("event:", "id:", "data: <message>"
// lines). A Write without the markers of a codeless error (nearly all of
// them: only each message's head is looked at) passes through untouched;
// a data line or body that is not one whole JSON-RPC message is left as it
// is.
type recodeWriter struct {
	http.ResponseWriter
}

func (w recodeWriter) Write(p []byte) (int, error) {
	sse := strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream")
	if !mayNeed(p, sse) {
		return w.ResponseWriter.Write(p)
	}
	out := p
	if sse {
		out = recodeEvents(p)
	} else if fixed, ok := rpcerr.Recode(p); ok {
		out = fixed
	}
	if _, err := w.ResponseWriter.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// mayNeed reports whether p, a JSON body or (sse) events, may hold a
// message to recode: it looks at the head of each message only
// (rpcerr.MayNeed), so a long result costs no scan.
func mayNeed(p []byte, sse bool) bool {
	if !sse {
		return rpcerr.MayNeed(p)
	}
	for line := range bytes.Lines(p) {
		if data, ok := bytes.CutPrefix(line, []byte("data:")); ok && rpcerr.MayNeed(bytes.TrimLeft(data, " ")) {
			return true
		}
	}
	return false
}

// Unwrap lets http.ResponseController reach the connection (the go-sdk
// flushes each event through it).
func (w recodeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recodeEvents recodes the message of each "data:" line of server-sent
// events.
func recodeEvents(p []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(p) + 16)
	for line := range bytes.Lines(p) {
		body := bytes.TrimSuffix(line, []byte("\n"))
		data, ok := bytes.CutPrefix(body, []byte("data:"))
		if !ok {
			out.Write(line)
			continue
		}
		fixed, changed := rpcerr.Recode(data)
		if !changed {
			out.Write(line)
			continue
		}
		out.WriteString("data: ")
		out.Write(fixed)
		if len(body) < len(line) {
			out.WriteByte('\n')
		}
	}
	return out.Bytes()
}
