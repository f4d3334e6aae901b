package mcphttp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// codeHeaderMismatch is SEP-2243's HeaderMismatch JSON-RPC error.
const codeHeaderMismatch = -32020

// headerName is SEP-2243's routing header naming a request's target.
const headerName = "Mcp-Name"

// taskMethods are the Tasks extension's methods whose Mcp-Name is the
// task id (the go-sdk checks Mcp-Name only for its own methods).
var taskMethods = map[string]bool{"tasks/get": true, "tasks/update": true, "tasks/cancel": true}

// checkTaskName enforces, on a 2026-07-28 request of the Tasks extension,
// that Mcp-Name is present and equals params.taskId, so that load
// balancers routing on it and the server agree on the task. It answers
// HTTP 400 with HeaderMismatch (-32020) and returns false otherwise. body
// is the request's, already read.
func checkTaskName(w http.ResponseWriter, r *http.Request, body []byte) bool {
	if r.Method != http.MethodPost || !taskMethods[r.Header.Get(headerMethod)] || body == nil {
		return true
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			TaskID string `json:"taskId"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil || msg.Method != r.Header.Get(headerMethod) {
		return true // the go-sdk answers a malformed body or a method mismatch
	}
	name, present := r.Header[http.CanonicalHeaderKey(headerName)]
	got := ""
	if present && len(name) > 0 {
		got = strings.TrimSpace(name[0])
	}
	var why string
	switch {
	case !present:
		why = fmt.Sprintf("missing required %s header for method %q", headerName, msg.Method)
	case got != msg.Params.TaskID:
		why = fmt.Sprintf("header mismatch: %s header value %.80q does not match params.taskId %.80q", headerName, got, msg.Params.TaskID)
	default:
		return true
	}
	id := msg.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	resp, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{"code": codeHeaderMismatch, "message": why}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(resp)
	return false
}
