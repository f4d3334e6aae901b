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
)

// MayNeed reports, cheaply, whether b could hold an answer Recode
// changes: false means it certainly does not.
func MayNeed(b []byte) bool {
	return bytes.Contains(b, markCode0) || bytes.Contains(b, markNoID)
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
