package mcpserver

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Error codes of the access checks.
const (
	// CodeToolNotEnabled: the tool exists but the operator switched its
	// toolset off (CRYPTOPAY_TOOLSETS) or it changes state in read-only mode.
	CodeToolNotEnabled = "TOOL_NOT_ENABLED"
	// CodeInsufficientScope: the caller's token lacks the scope the tool
	// needs; details.required_scope names it.
	CodeInsufficientScope = "INSUFFICIENT_SCOPE"
)

// codeResourceForbidden is the JSON-RPC error of a resource read or
// subscription the caller's scopes do not cover (the MCP spec reserves no
// code for it, and the go-sdk uses -32001 to -32005 itself).
const codeResourceForbidden = -32010

// AccessURI is the resource that tells a caller what it may do.
const AccessURI = "cryptopay://access"

// gate is what the access middleware knows about every tool.
type gate struct {
	policy access.Policy
	// scope of every registered tool.
	scope map[string]access.Scope
	// disabled holds tools that exist but are switched off, with the reason.
	disabled map[string]string
	// ui tells which tools are app-only and whether a caller sees them.
	ui *uiState
}

// caller is who sent req: the verified token's caller over HTTP, the
// anonymous caller otherwise.
func (e *env) caller(req mcp.Request) access.Caller {
	if req != nil {
		if ex := req.GetExtra(); ex != nil && ex.TokenInfo != nil {
			return access.FromTokenInfo(ex.TokenInfo)
		}
	}
	return e.anonymous
}

// uriScope is the scope a resource URI needs ("" for the access resource,
// which every caller may read).
func uriScope(uri string) access.Scope {
	switch {
	case strings.HasPrefix(uri, "bitnovo://"):
		return access.PaymentsRead
	case strings.HasPrefix(uri, "bitrefill://"):
		return access.ShopRead
	}
	return ""
}

// accessMiddleware enforces the policy and the caller's scopes:
// tools/list and the resource and prompt lists show only what the caller
// may use, and a call outside them fails with TOOL_NOT_ENABLED or
// INSUFFICIENT_SCOPE (an isError result, so the session goes on) or, for
// resources, JSON-RPC error -32010.
func accessMiddleware(e *env, g *gate) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			c := e.caller(req)
			switch method {
			case "tools/call":
				p, ok := req.GetParams().(*mcp.CallToolParamsRaw)
				if !ok {
					break
				}
				if why, off := g.disabled[p.Name]; off {
					return errorResult(e, toolerr.New(CodeToolNotEnabled, "tool "+p.Name+" is not enabled on this server: "+why,
						map[string]any{"tool": p.Name, "toolsets": g.policy.String()})), nil
				}
				if sc, known := g.scope[p.Name]; known && !c.Has(sc) {
					return errorResult(e, toolerr.New(CodeInsufficientScope,
						fmt.Sprintf("your access token lacks the scope %s that %s needs; ask the operator for a token with it", sc, p.Name),
						map[string]any{"tool": p.Name, "required_scope": string(sc), "granted_scopes": access.ScopeStrings(c.Scopes)})), nil
				}
			case "resources/read", "resources/subscribe", "subscriptions/listen":
				var uris []string
				switch p := req.GetParams().(type) {
				case *mcp.ReadResourceParams:
					uris = []string{p.URI}
				case *mcp.SubscribeParams:
					uris = []string{p.URI}
				case *mcp.SubscriptionsListenParams:
					if p.Notifications != nil {
						uris = p.Notifications.ResourceSubscriptions
					}
				}
				for _, uri := range uris {
					if sc := uriScope(uri); sc != "" && !c.Has(sc) {
						return nil, &jsonrpc.Error{Code: codeResourceForbidden,
							Message: fmt.Sprintf("insufficient scope: reading %s needs %s", uri, sc)}
					}
				}
			case "completion/complete":
				// Completions draw on the prompts' and templates' data (the
				// currency catalog): they need the scope that lists them.
				if p, ok := req.GetParams().(*mcp.CompleteParams); ok && p.Ref != nil {
					var sc access.Scope
					switch p.Ref.Type {
					case "ref/prompt":
						sc = access.PaymentsRead
					case "ref/resource":
						sc = uriScope(p.Ref.URI)
					}
					if sc != "" && !c.Has(sc) {
						return nil, &jsonrpc.Error{Code: codeResourceForbidden,
							Message: fmt.Sprintf("insufficient scope: completing %s needs %s", p.Ref.Type, sc)}
					}
				}
			case "prompts/get":
				if !c.Has(access.PaymentsRead) {
					return nil, &jsonrpc.Error{Code: codeResourceForbidden, Message: "insufficient scope: the prompts need payments:read"}
				}
			}
			res, err := next(ctx, method, req)
			if err != nil {
				return res, err
			}
			switch r := res.(type) {
			case *mcp.ListToolsResult:
				r.Tools = slices.DeleteFunc(slices.Clone(r.Tools), func(t *mcp.Tool) bool {
					sc, known := g.scope[t.Name]
					return known && !c.Has(sc)
				})
			case *mcp.ListResourcesResult:
				r.Resources = slices.DeleteFunc(slices.Clone(r.Resources), func(x *mcp.Resource) bool {
					sc := uriScope(x.URI)
					return sc != "" && !c.Has(sc)
				})
			case *mcp.ListResourceTemplatesResult:
				r.ResourceTemplates = slices.DeleteFunc(slices.Clone(r.ResourceTemplates), func(x *mcp.ResourceTemplate) bool {
					sc := uriScope(x.URITemplate)
					return sc != "" && !c.Has(sc)
				})
			case *mcp.ListPromptsResult:
				if !c.Has(access.PaymentsRead) {
					r.Prompts = nil
				}
			}
			return res, nil
		}
	}
}

// accessInfo is the content of cryptopay://access.
type accessInfo struct {
	Toolsets []string `json:"toolsets"`
	ReadOnly bool     `json:"read_only"`
	Caller   struct {
		Kind     string   `json:"kind"`
		Subject  string   `json:"subject,omitempty"`
		ClientID string   `json:"client_id,omitempty"`
		Scopes   []string `json:"scopes"`
	} `json:"caller"`
	Tools    []string          `json:"tools"`              // what this caller may call
	Disabled map[string]string `json:"disabled,omitempty"` // tool → why it is off
}

// addAccessResource registers cryptopay://access: the enabled toolsets,
// read-only mode, who the caller is and which tools it may call.
func addAccessResource(s *mcp.Server, e *env, g *gate) {
	s.AddResource(&mcp.Resource{URI: AccessURI, Name: "access", MIMEType: "application/json",
		Title:       "What this caller may do",
		Description: "The enabled toolsets, read-only mode, the caller (token subject, client and scopes) and the tools it may call."},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			c := e.caller(req)
			var info accessInfo
			ts := g.policy.Toolsets
			if ts == nil {
				ts = access.AllToolsets()
			}
			for _, t := range ts {
				info.Toolsets = append(info.Toolsets, string(t))
			}
			info.ReadOnly = g.policy.ReadOnly
			info.Caller.Kind, info.Caller.Subject, info.Caller.ClientID = c.Kind, c.Subject, c.ClientID
			info.Caller.Scopes = access.ScopeStrings(c.Scopes)
			show := g.ui.shows(req)
			for name, sc := range g.scope {
				if c.Has(sc) && (show || !g.ui.appOnly[name]) && !(show && name == "unseal_order" && g.ui.revealInCard()) {
					info.Tools = append(info.Tools, name)
				}
			}
			slices.Sort(info.Tools)
			if len(g.disabled) > 0 {
				info.Disabled = g.disabled
			}
			b, err := jsonText(info)
			if err != nil {
				return nil, fmt.Errorf("encode access info: %w", err)
			}
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: AccessURI, MIMEType: "application/json", Text: string(b)}}}, nil
		})
}
