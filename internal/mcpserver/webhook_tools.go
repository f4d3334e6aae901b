package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// Error codes of the webhook tools.
const (
	CodeWebhookNotEnabled   = "WEBHOOK_NOT_ENABLED"
	CodeWebhookURLMissing   = "WEBHOOK_URL_UNAVAILABLE"
	CodeEventStoreFailed    = "EVENT_STORE_ERROR"
	CodeInvalidDeviceSecret = "INVALID_DEVICE_SECRET"
	webhookToolsDescSuffix  = " Available when WEBHOOK_ENABLED=true."
	paymentResourcePrefix   = "bitnovo://payments/"
	paymentResourceTemplate = paymentResourcePrefix + "{identifier}"
)

// webhookToolNames are listed only when webhooks are enabled; calling one
// otherwise gives WEBHOOK_NOT_ENABLED.
var webhookToolNames = []string{"get_webhook_events", "get_webhook_url", "get_tunnel_status"}

// Webhooks is what the webhook tools need from the running receiver and
// its tunnel.
type Webhooks interface {
	// Events is the event store.
	Events() store.Events
	// URL returns the public webhook URL (public base + path) and the
	// provider serving it, or an error explaining why there is none.
	URL() (webhookURL, provider string, err error)
	// Validate proves webhookURL reaches this receiver end to end, by
	// sending it a signed probe through the public URL.
	Validate(ctx context.Context, webhookURL string) error
	// Instructions tells the user how to configure the URL at Bitnovo.
	Instructions(webhookURL, provider string) string
	// TunnelStatus reports the tunnel's state and the detected context.
	TunnelStatus() TunnelStatus
}

// DeviceSecretReporter is implemented by a Webhooks that can tell whether
// it has a usable BITNOVO_DEVICE_SECRET. DeviceSecretError returns nil when
// webhook signatures are verified, and an error saying what is wrong
// otherwise (no secret: the receiver runs with WEBHOOK_ALLOW_UNSIGNED).
// The webhook tools then answer INVALID_DEVICE_SECRET where the secret
// matters.
type DeviceSecretReporter interface {
	DeviceSecretError() error
}

// deviceSecretIssue returns the INVALID_DEVICE_SECRET error of w, or nil.
func deviceSecretIssue(w Webhooks) *toolerr.Error {
	r, ok := w.(DeviceSecretReporter)
	if !ok {
		return nil
	}
	err := r.DeviceSecretError()
	if err == nil {
		return nil
	}
	return toolerr.Wrap(err, CodeInvalidDeviceSecret,
		"BITNOVO_DEVICE_SECRET is missing or unusable ("+err.Error()+"): webhook signatures cannot be verified. "+
			"Set it to the device's 64-hex-character secret from the Bitnovo dashboard and restart", nil)
}

// TunnelStatus is the output of get_tunnel_status.
type TunnelStatus struct {
	Enabled            bool             `json:"enabled"`
	Provider           string           `json:"provider" jsonschema:"ngrok, zrok, manual or fake (sandbox)"`
	Status             string           `json:"status" jsonschema:"disconnected, connecting, connected, reconnecting or error"`
	PublicURL          *string          `json:"public_url"`
	ConnectedAt        *string          `json:"connected_at"`
	LastError          *string          `json:"last_error"`
	ReconnectAttempts  int              `json:"reconnect_attempts"`
	HealthCheckEnabled bool             `json:"health_check_enabled"`
	ContextDetected    *DetectedContext `json:"context_detected,omitempty"`
	WebhookURL         *string          `json:"webhook_url,omitempty" jsonschema:"the public URL plus the webhook path"`
	Sandbox            bool             `json:"sandbox,omitempty"`
}

// DetectedContext is where the server believes it runs.
type DetectedContext struct {
	ExecutionContext  string   `json:"execution_context" jsonschema:"n8n, opal, kubernetes, docker, server or local"`
	Confidence        float64  `json:"confidence"`
	SuggestedProvider string   `json:"suggested_provider"`
	Indicators        []string `json:"indicators"`
}

type webhookEventsArgs struct {
	Identifier    string `json:"identifier,omitempty" jsonschema:"only events of this payment identifier"`
	Limit         int    `json:"limit,omitempty" jsonschema:"maximum number of events, newest first"`
	ValidatedOnly bool   `json:"validated_only,omitempty" jsonschema:"only events whose HMAC signature was verified (unsigned ones exist only with WEBHOOK_ALLOW_UNSIGNED=true)"`
}

// WebhookEventOut is one stored webhook delivery.
type WebhookEventOut struct {
	EventID    string         `json:"event_id"`
	Identifier string         `json:"identifier"`
	Status     string         `json:"status"`
	ReceivedAt string         `json:"received_at"`
	Validated  bool           `json:"validated"`
	Payload    map[string]any `json:"payload" jsonschema:"the JSON body as Bitnovo sent it, numbers as their exact text (a number beyond the float64 range, such as 1e400, as a string of that text)"`
}

type webhookEventsOut struct {
	Events     []WebhookEventOut `json:"events"`
	TotalCount int               `json:"total_count" jsonschema:"events matching the filters, before limit"`
	Returned   int               `json:"returned"`
	Sandbox    bool              `json:"sandbox,omitempty"`
}

// identifierRE with validIdentifier's length check: a counted repetition
// such as {1,128} would compile to 128 copies of the class at start-up.
var identifierRE = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`)

func validIdentifier(s string) bool { return len(s) <= 128 && identifierRE.MatchString(s) }

func getWebhookEvents(w Webhooks, sandbox bool) Tool[webhookEventsArgs, webhookEventsOut] {
	return Tool[webhookEventsArgs, webhookEventsOut]{
		Toolset: access.Webhooks,
		Def: mcp.Tool{
			Name:  "get_webhook_events",
			Title: "Webhook events",
			Description: "Webhook events received from Bitnovo Pay, newest first, with the raw payload. " +
				"Use it to answer 'has the payment arrived?' without polling Bitnovo; to block until it arrives use wait_for_payment, " +
				"for the authoritative status get_payment_status. Read-only. " +
				"Without BITNOVO_DEVICE_SECRET no event is verified: validated_only=true then fails with INVALID_DEVICE_SECRET (pass false to see unverified events)." +
				webhookToolsDescSuffix,
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)},
		},
		Patch: func(s *jsonschema.Schema) {
			l := prop(s, "limit")
			l.Minimum, l.Maximum = ptr(1.0), ptr(500.0)
			setDefault(l, 50)
			setDefault(prop(s, "validated_only"), true)
			prop(s, "identifier").MaxLength = ptr(128)
		},
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, in webhookEventsArgs) (Output[webhookEventsOut], error) {
			if in.Identifier != "" && !validIdentifier(in.Identifier) {
				return Output[webhookEventsOut]{}, toolerr.InvalidArg("identifier", "must be a payment identifier (UUID)")
			}
			if in.ValidatedOnly {
				if pe := deviceSecretIssue(w); pe != nil {
					// Without a secret no event is ever validated: say why
					// instead of answering an empty list forever.
					pe.Details = map[string]any{"validated_only": true,
						"hint": "call again with validated_only=false to see the unverified events"}
					return Output[webhookEventsOut]{}, pe
				}
			}
			// limit defaults to 50 and is 1–500 by the schema.
			evs, total, err := w.Events().ListEvents(ctx, store.EventQuery{Identifier: in.Identifier, ValidatedOnly: in.ValidatedOnly, Limit: in.Limit})
			if err != nil {
				return Output[webhookEventsOut]{}, toolerr.Wrap(err, CodeEventStoreFailed, "could not read the webhook event store", nil)
			}
			out := webhookEventsOut{Events: make([]WebhookEventOut, 0, len(evs)), TotalCount: total, Sandbox: sandbox}
			for _, e := range evs {
				out.Events = append(out.Events, WebhookEventOut{
					EventID: e.EventID, Identifier: e.Identifier, Status: e.Status, Validated: e.Validated,
					ReceivedAt: e.ReceivedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Payload: rawObject(e.Payload),
				})
			}
			out.Returned = len(out.Events)
			return Output[webhookEventsOut]{Value: out}, nil
		},
	}
}

// rawObject decodes a stored payload keeping every number as its exact
// text (json.Number, written back verbatim). A number beyond the float64
// range (1e400) becomes a string of the same text: as a JSON number it
// would make common clients (the go-sdk's among them) fail to decode the
// whole result, so one such delivery would break every listing.
func rawObject(b []byte) map[string]any {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return map[string]any{"_raw": string(b)}
	}
	for k, v := range m {
		m[k] = decodableNumbers(v)
	}
	return m
}

// decodableNumbers replaces, in a decoded JSON value, the numbers no
// float64 can hold by strings of their exact text.
func decodableNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if _, err := strconv.ParseFloat(v.String(), 64); errors.Is(err, strconv.ErrRange) {
			return v.String()
		}
	case map[string]any:
		for k, e := range v {
			v[k] = decodableNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = decodableNumbers(e)
		}
	}
	return v
}

type webhookURLArgs struct {
	Validate bool `json:"validate,omitempty" jsonschema:"prove the URL works end to end: send a signed test request through the public URL"`
}

type webhookURLOut struct {
	WebhookURL      string `json:"webhook_url"`
	Provider        string `json:"provider" jsonschema:"ngrok, zrok, manual or fake (sandbox)"`
	Validated       bool   `json:"validated" jsonschema:"true only if validate was requested and the signed test request came back through the public URL"`
	ValidationError string `json:"validation_error,omitempty"`
	Instructions    string `json:"instructions,omitempty"`
	// SecretError is set when signatures cannot be verified.
	SecretError *toolerr.Error `json:"secret_error,omitempty" jsonschema:"INVALID_DEVICE_SECRET when BITNOVO_DEVICE_SECRET is missing: the URL works but anyone could post to it"`
	Sandbox     bool           `json:"sandbox,omitempty"`
}

func getWebhookURL(w Webhooks, sandbox bool) Tool[webhookURLArgs, webhookURLOut] {
	return Tool[webhookURLArgs, webhookURLOut]{
		Toolset: access.Webhooks,
		Def: mcp.Tool{
			Name:  "get_webhook_url",
			Title: "Webhook URL",
			Description: "The public URL to paste into the Bitnovo Pay dashboard (Settings → Merchant → Devices → notification_url), " +
				"with instructions. Use it when the user sets up webhooks. " +
				"With validate=true it sends a signed test request through the public URL and reports whether it arrived. " +
				"secret_error (INVALID_DEVICE_SECRET) says when signatures cannot be verified. " +
				"Errors: TUNNEL_CONNECTION_FAILED (see get_tunnel_status), WEBHOOK_URL_UNAVAILABLE (no tunnel or URL configured, or still connecting)." +
				webhookToolsDescSuffix,
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(true)},
		},
		Patch: func(s *jsonschema.Schema) { setDefault(prop(s, "validate"), false) },
		Handler: func(ctx context.Context, _ *mcp.CallToolRequest, in webhookURLArgs) (Output[webhookURLOut], error) {
			u, provider, err := w.URL()
			if err != nil {
				if _, ok := errors.AsType[*toolerr.Error](err); ok {
					return Output[webhookURLOut]{}, err
				}
				return Output[webhookURLOut]{}, toolerr.Wrap(err, CodeWebhookURLMissing, err.Error(), nil)
			}
			out := webhookURLOut{WebhookURL: u, Provider: provider, Instructions: w.Instructions(u, provider),
				SecretError: deviceSecretIssue(w), Sandbox: sandbox}
			if in.Validate {
				if err := w.Validate(ctx, u); err != nil {
					out.ValidationError = err.Error()
				} else {
					out.Validated = true
				}
			}
			return Output[webhookURLOut]{Value: out}, nil
		},
	}
}

func getTunnelStatus(w Webhooks, sandbox bool) Tool[noArgs, TunnelStatus] {
	return Tool[noArgs, TunnelStatus]{
		Toolset: access.Webhooks,
		Def: mcp.Tool{
			Name:  "get_tunnel_status",
			Title: "Tunnel status",
			Description: "Diagnose the tunnel that carries Bitnovo's webhooks to this server (ngrok, zrok or a manual public URL): " +
				"status, public URL, last error, reconnect attempts, detected execution context. Read-only, cannot fail. " +
				"Use it when get_webhook_url fails or webhooks stop arriving; last_error says what to check." + webhookToolsDescSuffix,
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(false)},
		},
		Handler: func(context.Context, *mcp.CallToolRequest, noArgs) (Output[TunnelStatus], error) {
			st := w.TunnelStatus()
			st.Sandbox = sandbox
			return Output[TunnelStatus]{Value: st}, nil
		},
	}
}

// webhookTools returns the webhook tools, or none when webhooks are off.
func webhookTools(w Webhooks, sandbox bool) []registrar {
	if w == nil {
		return nil
	}
	return []registrar{getWebhookEvents(w, sandbox), getWebhookURL(w, sandbox), getTunnelStatus(w, sandbox)}
}

// notEnabledMiddleware answers calls to the webhook tools with
// WEBHOOK_NOT_ENABLED when they are not registered, instead of the
// protocol's "unknown tool".
func notEnabledMiddleware(e *env) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "tools/call" {
				if p, ok := req.GetParams().(*mcp.CallToolParamsRaw); ok {
					for _, n := range webhookToolNames {
						if p.Name == n {
							return errorResult(e, toolerr.New(CodeWebhookNotEnabled,
								"webhooks are not enabled: set WEBHOOK_ENABLED=true (and BITNOVO_DEVICE_SECRET) to receive Bitnovo's payment notifications",
								map[string]any{"tool": n})), nil
						}
					}
				}
			}
			return next(ctx, method, req)
		}
	}
}

type waitArgs struct {
	Identifier     string   `json:"identifier" jsonschema:"payment identifier returned by create_payment_onchain or create_payment_link"`
	TimeoutSeconds int      `json:"timeout_seconds,omitempty" jsonschema:"longest wait in seconds; without a progress token more than 45 is cut to 45"`
	TargetStatuses []string `json:"target_statuses,omitempty" jsonschema:"statuses that end the wait; it also ends if the payment reaches another final status"`
}

func waitForPayment(svc *payments.Service) Tool[waitArgs, payments.WaitResult] {
	return Tool[waitArgs, payments.WaitResult]{
		Toolset: access.Payments,
		Def: mcp.Tool{
			Name:  "wait_for_payment",
			Title: "Wait for a payment",
			Description: "Wait until a payment reaches a target status (default CO, completed), ends in another final status (ended_terminal), " +
				"or timeout_seconds pass (timed_out). Without a progress token it waits at most 45 s, inside clients' 60 s request timeouts; " +
				"with one up to 300 s, with progress every 5 s. It wakes on Bitnovo's webhook or polls with backoff. " +
				"Prefer it over calling get_payment_status in a loop. Read-only. Returns status, reached, ended_terminal, timed_out and " +
				"payment (the get_payment_status result); timed_out means still pending: call it again (next says so) or ask the user. " +
				"Errors: PAYMENT_NOT_FOUND, INVALID_ARGUMENT.",
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: ptr(true)},
		},
		NoDeadline: true,
		Patch: func(s *jsonschema.Schema) {
			t := prop(s, "timeout_seconds")
			t.Minimum, t.Maximum = ptr(1.0), ptr(payments.MaxWait.Seconds())
			setDefault(t, payments.DefaultWait.Seconds())
			ts := prop(s, "target_statuses")
			ts.Types, ts.Type = nil, "array"
			ts.MinItems, ts.MaxItems = ptr(1), ptr(9)
			ts.Items.Enum = []any{"NR", "PE", "AC", "IA", "OC", "CO", "CA", "EX", "FA"}
			setDefault(ts, []string{"CO"})
		},
		Handler: func(ctx context.Context, req *mcp.CallToolRequest, in waitArgs) (Output[payments.WaitResult], error) {
			if slot := slotFrom(ctx); slot != nil {
				// A task waits past timeout_seconds, until the payment ends.
				return Output[payments.WaitResult]{}, slot.start(ctx, waitParams{Identifier: in.Identifier, Targets: in.TargetStatuses},
					"waiting for payment "+in.Identifier)
			}
			timeout := time.Duration(in.TimeoutSeconds) * time.Second // 0: the default
			progress := progressReporter(ctx, req)
			return value(svc.Wait(ctx, payments.WaitInput{Identifier: in.Identifier, Timeout: timeout, Targets: in.TargetStatuses,
				Streaming: progress != nil}, progress))
		},
	}
}

// progressReporter sends notifications/progress for the call when the
// client asked for them (a progress token in _meta).
func progressReporter(ctx context.Context, req *mcp.CallToolRequest) func(payments.Progress) {
	if req == nil || req.Session == nil || req.Params == nil {
		return nil
	}
	token := req.Params.GetProgressToken()
	if token == nil {
		return nil
	}
	return func(p payments.Progress) {
		_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token,
			Progress:      math.Round(p.Elapsed.Seconds()*10) / 10,
			Total:         p.Total.Seconds(),
			Message:       p.Message,
		})
	}
}

// addPaymentResources serves every payment as bitnovo://payments/{id}.
func addPaymentResources(s *mcp.Server, svc *payments.Service) {
	s.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: paymentResourceTemplate, Name: "payment", MIMEType: "application/json",
		Title: "Bitnovo Pay payment",
		Description: "A payment's current status (the get_payment_status result). Subscribe to get notifications/resources/updated " +
			"whenever a verified Bitnovo webhook for it arrives.",
	}, func(ctx context.Context, r *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		id, err := paymentID(r.Params.URI)
		if err != nil {
			return nil, err
		}
		st, err := svc.Status(ctx, id)
		if err != nil {
			pe := toolerr.From(err)
			if pe.Code == payments.CodePaymentNotFound {
				return nil, mcp.ResourceNotFoundError(r.Params.URI)
			}
			code := int64(jsonrpc.CodeInternalError)
			if pe.Code == toolerr.CodeInvalidArgument {
				code = jsonrpc.CodeInvalidParams
			}
			return nil, &jsonrpc.Error{Code: code, Message: pe.Code + ": " + pe.Message}
		}
		b, err := jsonText(st)
		if err != nil {
			return nil, fmt.Errorf("encode payment: %w", err)
		}
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: r.Params.URI, MIMEType: "application/json", Text: string(b)}}}, nil
	})
}

func paymentID(uri string) (string, error) {
	id, ok := strings.CutPrefix(uri, paymentResourcePrefix)
	if !ok || !validIdentifier(id) {
		// -32602, not the code 0 a plain error would get on the wire.
		return "", &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "not a payment resource: want " + paymentResourceTemplate}
	}
	return id, nil
}

// PaymentResourceURI is the resource URI of a payment.
func PaymentResourceURI(id string) string { return paymentResourcePrefix + id }
