package mcphttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MCP protocol revisions served on one endpoint.
const (
	// Revision20251125 is the newest revision with the initialize
	// handshake, sessions (Mcp-Session-Id), resources/subscribe and the
	// standalone GET stream.
	Revision20251125 = "2025-11-25"
	// Revision20260728 is the sessionless revision: every request carries
	// its version and client capabilities in _meta, subscriptions/listen
	// replaces resources/subscribe and the GET stream.
	Revision20260728 = "2026-07-28"
)

// legacyRevisions are the revisions that negotiate through initialize and
// live in a session. A request naming one of them in MCP-Protocol-Version
// is session traffic; any other value (2026-07-28, or a version this
// server does not know) goes to the sessionless handler, which answers an
// unknown one with UnsupportedProtocolVersion (-32022).
var legacyRevisions = []string{"2024-11-05", "2025-03-26", "2025-06-18", Revision20251125}

// namesSessionless reports whether r's MCP-Protocol-Version header names a
// revision other than the session-era ones (2026-07-28, or an unknown one
// the sessionless handler refuses with the supported list).
func namesSessionless(r *http.Request) bool {
	v := r.Header.Get(headerProtocolVersion)
	return v != "" && !slices.Contains(legacyRevisions, v)
}

// Header and _meta names the router looks at.
const (
	headerProtocolVersion = "Mcp-Protocol-Version"
	headerSessionID       = "Mcp-Session-Id"
	headerMethod          = "Mcp-Method"
	methodListen          = "subscriptions/listen"
)

// MCPOptions configure NewMCPHandler.
type MCPOptions struct {
	// Stateless serves every request without a session (--stateless): no
	// initialize sessions, no resources/subscribe, no GET stream. The
	// 2026-07-28 revision is served either way.
	Stateless bool
	// Logger receives the go-sdk transport's warnings; nil: discard.
	Logger *slog.Logger
	// SessionTimeout closes a 2025-11-25 session that has had no request
	// open (its GET stream included) for this long; zero: never.
	SessionTimeout time.Duration
	// EventStore lets a 2025-11-25 client resume a response stream
	// (Last-Event-ID); nil: no resumption. 2026-07-28 has none.
	EventStore mcp.EventStore
	// MaxRequestBodyBytes bounds a request body; zero: the go-sdk's default
	// (mcp.DefaultMaxRequestBodyBytes).
	MaxRequestBodyBytes int64
}

// RevisionRouter serves both MCP revisions on one URL. It sits in front of
// two go-sdk handlers that share the caller's mcp.Server factory (so the
// tools, middleware, metrics and resource subscriptions are the same
// objects): a stateful one for 2025-11-25 sessions and a stateless one for
// 2026-07-28 requests. The go-sdk (v1.8.0) accepts 2026-07-28 only on a
// stateless handler and refuses it on a stateful one, hence two.
//
// A request goes to the sessionless handler when
//   - its MCP-Protocol-Version header names a revision other than the
//     session-era ones (2026-07-28, or an unknown version to be refused
//     with the supported list), or
//   - it is a POST without Mcp-Session-Id and without that header whose
//     _meta carries io.modelcontextprotocol/protocolVersion (the
//     sessionless handler then refuses it for the missing header, -32020).
//
// Everything else (initialize, requests in a session, GET streams, DELETE)
// goes to the session handler. With MCPOptions.Stateless every request
// goes to the sessionless handler. Either handler's JSON-RPC error answers
// get a code where the go-sdk gives none (recodeWriter).
type RevisionRouter struct {
	session     http.Handler // nil with MCPOptions.Stateless; the go-sdk's, behind sessionIdle with a SessionTimeout
	sessionless *mcp.StreamableHTTPHandler
	maxBody     int64
}

// NewMCPHandler returns the router over getServer, which may return the
// same server for every request or pick one (a tenant's) per request.
func NewMCPHandler(getServer func(*http.Request) *mcp.Server, o MCPOptions) *RevisionRouter {
	rr := &RevisionRouter{maxBody: o.MaxRequestBodyBytes}
	if rr.maxBody == 0 {
		rr.maxBody = mcp.DefaultMaxRequestBodyBytes
	}
	rr.sessionless = mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
		Stateless: true,
		Logger:    o.Logger,
		// mcphttp checks the Host header itself, with the allow list a
		// tunnel or reverse proxy needs (the SDK's check cannot take one).
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        o.MaxRequestBodyBytes,
		// A 2026-07-28 request is its POST: a client that hangs up has
		// cancelled it, so the tool call stops too.
		PropagateRequestCancellation: true,
	})
	if !o.Stateless {
		rr.session = mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
			Logger:                     o.Logger,
			DisableLocalhostProtection: true,
			MaxRequestBodyBytes:        o.MaxRequestBodyBytes,
			EventStore:                 o.EventStore,
		})
		if o.SessionTimeout > 0 {
			rr.session = newSessionIdle(o.SessionTimeout, rr.session)
		}
	}
	return rr
}

func (rr *RevisionRouter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A POST's body is read once, here, for the checks and the routing
	// below, and put back for the go-sdk.
	var body []byte
	if r.Method == http.MethodPost && r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rr.maxBody))
		if err != nil {
			if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
				http.Error(w, fmt.Sprintf("request body exceeds %d bytes", mbe.Limit), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "failed to read body", http.StatusBadRequest)
			return
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(b))
		body = b
		if !checkIDs(w, body) {
			return
		}
	}
	w = recodeWriter{w}
	if rr.session == nil || rr.routeSessionless(r, body) {
		if checkTaskName(w, r, body) {
			rr.sessionless.ServeHTTP(w, r)
		}
		return
	}
	rr.session.ServeHTTP(w, r)
}

// routeSessionless reports whether r (with body, for a POST) belongs to
// the sessionless handler. The body counts only for a POST that carries
// neither MCP-Protocol-Version nor Mcp-Session-Id (a client's first
// request).
func (rr *RevisionRouter) routeSessionless(r *http.Request, body []byte) bool {
	if r.Header.Get(headerProtocolVersion) != "" {
		return namesSessionless(r)
	}
	if r.Method != http.MethodPost || r.Header.Get(headerSessionID) != "" || len(body) == 0 {
		return false
	}
	return carriesRequestMeta(body)
}

// carriesRequestMeta reports whether body is one JSON-RPC message whose
// params._meta names a protocol version (a 2026-07-28 request).
func carriesRequestMeta(body []byte) bool {
	var msg struct {
		Params struct {
			Meta map[string]json.RawMessage `json:"_meta"`
		} `json:"params"`
	}
	if json.Unmarshal(body, &msg) != nil { // a batch, or not JSON: session traffic
		return false
	}
	_, ok := msg.Params.Meta[mcp.MetaKeyProtocolVersion]
	return ok
}

// IsStream reports whether r opens a stream that lives until the client
// or the server ends it rather than until a result is sent: a 2025-11-25
// standalone GET stream or a 2026-07-28 subscriptions/listen request.
// (2026-07-28 requests name their method in Mcp-Method, which the go-sdk
// checks against the body.)
func IsStream(r *http.Request) bool {
	return r.Method == http.MethodGet ||
		(r.Method == http.MethodPost && r.Header.Get(headerMethod) == methodListen)
}

// Revisions names the MCP revisions the endpoint serves, for the start-up
// line: both, the older one without sessions under --stateless.
func (c Config) Revisions() string {
	if c.Stateless {
		return Revision20260728 + "," + Revision20251125 + " (sessionless)"
	}
	return Revision20260728 + "," + Revision20251125
}
