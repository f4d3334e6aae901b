package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Revision2026 is the first MCP revision without sessions: every request
// carries its version and client capabilities in _meta.
const Revision2026 = "2026-07-28"

// ClientCaps returns the capabilities of the client that sent req, for
// both revisions: a 2026-07-28 request's own
// _meta["io.modelcontextprotocol/clientCapabilities"], or else those the
// client declared in its 2025-11-25 initialize. Nil when neither is known.
// Extensions (e.g. the MCP Apps UI extension) are in the result's
// Extensions map.
//
// The request's _meta counts only on a request of 2026-07-28 or later (as
// the go-sdk decides which protocol a request follows): a 2025-11-25
// session's capabilities are the ones it declared at initialize, whatever
// a later request's _meta says. On a connection that carries 2026-07-28
// requests (stdio, or any in-process transport) the go-sdk also copies the
// first request's capabilities into the session's InitializeParams; a
// later request may declare others, and its own count.
func ClientCaps(req mcp.Request) *mcp.ClientCapabilities {
	if req == nil {
		return nil
	}
	if r, ok := req.(interface {
		ProtocolVersion() string
		ClientCapabilities() *mcp.ClientCapabilities
	}); ok && r.ProtocolVersion() >= Revision2026 {
		return r.ClientCapabilities()
	}
	if ss, ok := req.GetSession().(*mcp.ServerSession); ok && ss != nil {
		if p := ss.InitializeParams(); p != nil {
			return p.Capabilities
		}
	}
	return nil
}

// RequestRevision returns the MCP revision req was sent under: its _meta
// protocol version (2026-07-28) or its session's negotiated one.
func RequestRevision(req mcp.Request) string {
	if r, ok := req.(interface{ ProtocolVersion() string }); ok {
		return r.ProtocolVersion()
	}
	if ss, ok := req.GetSession().(*mcp.ServerSession); ok && ss != nil {
		if p := ss.InitializeParams(); p != nil {
			return p.ProtocolVersion
		}
	}
	return ""
}

// MissingCapability is the error a handler returns when it needs client
// capabilities the request did not declare (names like "sampling",
// "elicitation", "roots"): MissingRequiredClientCapabilityError, -32021,
// which the HTTP transport answers with 400.
func MissingCapability(names ...string) error {
	req := map[string]any{}
	for _, n := range names {
		req[n] = map[string]any{}
	}
	data, err := json.Marshal(map[string]any{"requiredCapabilities": req})
	if err != nil {
		return fmt.Errorf("encode missing capabilities: %w", err)
	}
	return &jsonrpc.Error{Code: mcp.CodeMissingRequiredClientCapabilities,
		Message: "missing required client capabilities: " + strings.Join(names, ", "), Data: data}
}

// Cache hints (SEP-2549) on the results that carry them.
const (
	// listTTL: the tool, prompt and resource lists change only with the
	// configuration, that is with a restart.
	listTTL = 300_000 // ms
)

// setCacheable decides ttlMs and cacheScope for server/discover, the list
// methods and resources/read. The lists depend on the caller (its scopes
// and tenant pick the tools it may use), so only the caller may cache them;
// a resource read is a payment's live state (or the caller's own access
// summary): never fresh, private; except an MCP Apps view (ui://), a
// static document: public for as long as the lists.
func setCacheable(_ context.Context, req mcp.Request, c *mcp.Cacheable) {
	switch p := req.GetParams().(type) {
	case *mcp.DiscoverParams:
		c.TTLMs, c.CacheScope = listTTL, "public"
	case *mcp.ListToolsParams, *mcp.ListPromptsParams, *mcp.ListResourcesParams, *mcp.ListResourceTemplatesParams:
		c.TTLMs, c.CacheScope = listTTL, "private"
	case *mcp.ReadResourceParams:
		c.TTLMs, c.CacheScope = 0, "private"
		if strings.HasPrefix(p.URI, "ui://") {
			// An MCP Apps view is the same document for every caller
			// until the server is upgraded.
			c.TTLMs, c.CacheScope = listTTL, "public"
		}
	}
}

// listenFilterMiddleware makes a 2026-07-28 subscriptions/listen honor the
// subset of the requested resource URIs this server can push updates for
// (payment resources, plus Deps.Subscribable), instead of failing the whole
// listen on the first other URI: the go-sdk subscribes every listed URI
// through ServerOptions.SubscribeHandler and ends the listen on an error.
// The acknowledgement then reports what was honored.
func listenFilterMiddleware(subscribable func(string) bool) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "subscriptions/listen" {
				if p, ok := req.GetParams().(*mcp.SubscriptionsListenParams); ok && p.Notifications != nil {
					p.Notifications.ResourceSubscriptions = slices.DeleteFunc(slices.Clone(p.Notifications.ResourceSubscriptions),
						func(uri string) bool { return !subscribable(uri) })
				}
			}
			return next(ctx, method, req)
		}
	}
}
