package mcphttp

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/rpcerr"
)

// checkIDs refuses a POST body holding a JSON-RPC message whose id the
// go-sdk would answer with another (rpcerr.ID: it makes a numeric id an
// int64 through a float64, so 1.5 is answered as 1 and an integer past
// ±(2^53-1) loses digits or comes back as -9223372036854775808): HTTP 400
// with -32600 and id null, as internal/stdio answers such a line. It
// returns false when it answered. A body that is not JSON is the go-sdk's
// to refuse; a null or absent id is a notification's (or the go-sdk's
// "missing id").
func checkIDs(w http.ResponseWriter, body []byte) bool {
	if !badID(body) {
		return true
	}
	resp, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": nil,
		"error": &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: rpcerr.InvalidIDMessage}})
	if err != nil {
		http.Error(w, rpcerr.InvalidIDMessage, http.StatusBadRequest)
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(resp)
	return false
}

// badID reports whether body, one JSON-RPC message or a batch, has a
// message with an id that is neither null, nor a string, nor an integer
// within ±(2^53-1). Member names are matched exactly, as the go-sdk does.
func badID(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return false
	}
	// Fast path, without decoding: with no escape that could spell a
	// member name, a body that names "id" nowhere has no id, and one that
	// names it once has at most that one, at the top level or nested:
	// valid there, it is valid (or absent) at the top level.
	if !bytes.Contains(body, []byte(`\u`)) {
		switch bytes.Count(body, []byte(`"id"`)) {
		case 0:
			return false
		case 1:
			if simpleIDValid(body) {
				return false
			}
		}
	}
	return badIDDecoded(body)
}

// badIDDecoded is badID by decoding body's members.
func badIDDecoded(body []byte) bool {
	if len(body) == 0 {
		return false
	}
	var msgs []map[string]json.RawMessage
	if body[0] == '[' {
		if json.Unmarshal(body, &msgs) != nil {
			return false
		}
	} else {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return false
		}
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		raw, ok := m["id"]
		if !ok || string(raw) == "null" {
			continue
		}
		if _, valid := rpcerr.ID(raw); !valid {
			return true
		}
	}
	return false
}

// simpleIDValid reports whether the value after body's one "id" member
// name is an id the go-sdk answers unchanged.
func simpleIDValid(body []byte) bool {
	_, rest, _ := bytes.Cut(body, []byte(`"id"`))
	rest = bytes.TrimLeft(rest, " \t\r\n")
	rest, ok := bytes.CutPrefix(rest, []byte(":"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t\r\n")
	end := bytes.IndexAny(rest, ",}] \t\r\n")
	if end <= 0 || rest[0] == '"' && bytes.IndexByte(rest[1:end], '"') != end-2 {
		return false // a string holding one of those characters: decode it
	}
	_, valid := rpcerr.ID(rest[:end])
	return valid
}
