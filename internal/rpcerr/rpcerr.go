// Package rpcerr gives every JSON-RPC error answer a code, on every
// transport.
//
// The go-sdk (v1.8.0) answers an error that is not a *jsonrpc.Error with
// code 0, which JSON-RPC does not define: above all its "method %q is
// invalid during session initialization", the answer to a call sent before
// initialize. Its jsonrpc2 layer is internal and its transports take no
// hook for the answer, so each transport of the project fixes the answer
// on its way out: internal/stdio with Coded on the message, internal/mcphttp
// with Recode on the bytes the go-sdk's HTTP handler writes. The id is never
// touched, except that an error answer without one gets null, as JSON-RPC
// wants.
package rpcerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

// initGate is the go-sdk's message for a call before initialize.
const initGate = "invalid during session initialization"

// Coded returns err as a *jsonrpc.Error with a code: its own when it has
// one, else -32600 for a call before initialize (the request is invalid in
// that state) and -32603 for anything else. Nil stays nil.
func Coded(err error) error {
	if err == nil {
		return nil
	}
	var we *jsonrpc.Error
	if errors.As(err, &we) && we.Code != 0 {
		return err
	}
	return &jsonrpc.Error{Code: code(err.Error()), Message: err.Error()}
}

func code(message string) int64 {
	if strings.Contains(message, initGate) {
		return jsonrpc.CodeInvalidRequest
	}
	return jsonrpc.CodeInternalError
}

// Markers of an answer Recode changes, as the go-sdk encodes it (no
// spaces; the error's code first; id left out when it has none).
var (
	markCode0 = []byte(`"error":{"code":0,`)
	markNoID  = []byte(`{"jsonrpc":"2.0","error":`)
	markHead  = []byte(`{"jsonrpc":"2.0",`)
	markID    = []byte(`"id":`)
)

// MayNeed reports, cheaply, whether msg (one message, or a batch) could
// be an answer Recode changes: false means it certainly is not. A message
// in the go-sdk's encoding ({"jsonrpc":"2.0","id":…,"result"|"error"|
// "method"…) is judged by its head alone, however long its result; any
// other text by a scan for the markers.
func MayNeed(msg []byte) bool {
	if rest, ok := bytes.CutPrefix(msg, markHead); ok {
		if bytes.HasPrefix(rest, []byte(`"error":`)) {
			return true
		}
		if rest, ok = bytes.CutPrefix(rest, markID); ok {
			if n := simpleValue(rest); n > 0 {
				rest = rest[n:]
				return !bytes.HasPrefix(rest, []byte(`,"result":`)) && !bytes.HasPrefix(rest, []byte(`,"method":`)) &&
					(!bytes.HasPrefix(rest, []byte(`,"error":{"code":`)) || bytes.HasPrefix(rest, []byte(`,`+string(markCode0))))
			}
		} else if bytes.HasPrefix(rest, []byte(`"method":`)) {
			return false
		}
	}
	return bytes.Contains(msg, markCode0) || bytes.Contains(msg, markNoID)
}

// simpleValue returns the length of the JSON number, or the string without
// escapes, at the start of b; 0 for anything else.
func simpleValue(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	if b[0] == '"' {
		for i := 1; i < len(b); i++ {
			switch b[i] {
			case '"':
				return i + 1
			case '\\':
				return 0
			}
		}
		return 0
	}
	i := 0
	for i < len(b) && (b[i] == '-' || b[i] == '.' || b[i] == '+' || b[i] == 'e' || b[i] == 'E' || (b[i] >= '0' && b[i] <= '9')) {
		i++
	}
	return i
}

// Recode returns msg, one JSON-RPC message or a batch (an array) of them,
// with every error answer coded as Coded would, and null as the id of an
// error answer that has none; changed is false, and msg returned as is,
// when nothing needed it or msg is not JSON-RPC. Everything else (the id's
// exact text, the message, the data) is kept.
func Recode(msg []byte) (out []byte, changed bool) {
	trimmed := bytes.TrimSpace(msg)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var batch []json.RawMessage
		if json.Unmarshal(trimmed, &batch) != nil {
			return msg, false
		}
		for i, m := range batch {
			if fixed, ok := recodeOne(m); ok {
				batch[i], changed = fixed, true
			}
		}
		if !changed {
			return msg, false
		}
		b, err := marshal(batch)
		if err != nil {
			return msg, false
		}
		return b, true
	}
	if fixed, ok := recodeOne(trimmed); ok {
		return fixed, true
	}
	return msg, false
}

func recodeOne(msg []byte) ([]byte, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil {
		return nil, false
	}
	raw, ok := m["error"]
	if _, isRequest := m["method"]; !ok || isRequest {
		return nil, false
	}
	var e struct {
		Code    *json.Number `json:"code"`
		Message string       `json:"message"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return nil, false
	}
	changed := false
	if e.Code == nil || *e.Code == "0" {
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil || fields == nil {
			return nil, false
		}
		c, err := json.Marshal(code(e.Message))
		if err != nil {
			return nil, false
		}
		fields["code"] = c
		if m["error"], err = marshal(fields); err != nil {
			return nil, false
		}
		changed = true
	}
	if _, ok := m["id"]; !ok {
		m["id"] = json.RawMessage("null")
		changed = true
	}
	if !changed {
		return nil, false
	}
	b, err := marshal(m)
	if err != nil {
		return nil, false
	}
	return b, true
}

// marshal is json.Marshal without the HTML escaping (the text the go-sdk
// wrote stays as it was) and without the trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// MaxSafeID bounds numeric ids: the go-sdk keeps a numeric id as an int64
// made through a float64, so a fraction is cut (1.5 answered as 1) and an
// integer past ±(2^53-1) loses digits or wraps (answered as
// -9223372036854775808).
const MaxSafeID = 1<<53 - 1

// InvalidIDMessage is the message of the -32600 answer to a request whose
// id the go-sdk would answer with another.
const InvalidIDMessage = "invalid request: id must be a string or an integer within ±9007199254740991"

// ID reports whether raw, a request's id, comes back unchanged in the
// go-sdk's answer: a string, or an integer within ±MaxSafeID. It returns
// the id as the value jsonrpc.MakeID takes.
func ID(raw json.RawMessage) (any, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		return s, true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		// A JSON integer (no fraction, no exponent) of at most 16 digits,
		// within ±MaxSafeID.
		digits := bytes.TrimPrefix(raw, []byte("-"))
		if len(digits) == 0 || len(digits) > 16 || (digits[0] == '0' && len(digits) > 1) {
			return nil, false
		}
		var n int64
		for _, c := range digits {
			if c < '0' || c > '9' {
				return nil, false
			}
			n = n*10 + int64(c-'0')
		}
		if n > MaxSafeID {
			return nil, false
		}
		if raw[0] == '-' {
			n = -n
		}
		return float64(n), true
	}
	return nil, false
}
