package mcpserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/payments"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/toolerr"
)

// fakeWebhooks is a Webhooks with fixed answers.
type fakeWebhooks struct {
	events   store.Events
	url      string
	provider string
	urlErr   error
	validErr error
	status   TunnelStatus
}

func (f *fakeWebhooks) Events() store.Events { return f.events }
func (f *fakeWebhooks) URL() (string, string, error) {
	if f.urlErr != nil {
		return "", "", f.urlErr
	}
	return f.url, f.provider, nil
}
func (f *fakeWebhooks) Validate(context.Context, string) error { return f.validErr }
func (f *fakeWebhooks) Instructions(u, p string) string        { return p + " " + u }
func (f *fakeWebhooks) TunnelStatus() TunnelStatus             { return f.status }

var errNoURL = errors.New("no public URL")

// connectInMemory serves d over in-memory transports and returns a client
// session.
func connectInMemory(t *testing.T, d Deps) *mcp.ClientSession {
	t.Helper()
	s, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "0"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func callJSON(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) (map[string]any, bool) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var m map[string]any
	if res.IsError {
		_ = json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &m)
		return m, true
	}
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &m)
	return m, false
}

func TestWebhookEventsTool(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	const a, b = "1040095a-737d-41a2-a2e1-d031d19ec8cd", "2040095a-737d-41a2-a2e1-d031d19ec8cd"
	base := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	add := func(i int, id, status string, validated bool) {
		body := fmt.Sprintf(`{"identifier": %q, "status": %q, "crypto_amount": 1.21461894, "n": %d}`, id, status, i)
		sum := sha256.Sum256([]byte(body))
		_, err := st.SaveEvent(ctx, store.Event{EventID: fmt.Sprintf("%s:%d", id, i), Identifier: id, Status: status, Nonce: fmt.Sprint(i),
			Validated: validated, Payload: []byte(body), BodyHash: hex.EncodeToString(sum[:]), ReceivedAt: base.Add(time.Duration(i) * time.Second)}, "", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
	}
	add(1, a, "PE", true)
	add(2, b, "PE", true)
	add(3, a, "AC", false) // unsigned
	add(4, a, "CO", true)
	svc := payments.New(nil, st, payments.Options{})
	cs := connectInMemory(t, Deps{Payments: svc, Webhooks: &fakeWebhooks{events: st}})

	tests := []struct {
		args  map[string]any
		want  []string // statuses, newest first
		total float64
	}{
		{nil, []string{"CO", "PE", "PE"}, 3},
		{map[string]any{"validated_only": false}, []string{"CO", "AC", "PE", "PE"}, 4},
		{map[string]any{"identifier": a}, []string{"CO", "PE"}, 2},
		{map[string]any{"identifier": a, "validated_only": false, "limit": 2}, []string{"CO", "AC"}, 3},
		{map[string]any{"limit": 1}, []string{"CO"}, 3},
	}
	for _, tt := range tests {
		out, isErr := callJSON(t, cs, "get_webhook_events", tt.args)
		if isErr {
			t.Fatalf("%v: %v", tt.args, out)
		}
		var got []string
		for _, e := range out["events"].([]any) {
			got = append(got, e.(map[string]any)["status"].(string))
		}
		if !slices.Equal(got, tt.want) || out["total_count"] != tt.total {
			t.Errorf("%v: got %v total %v, want %v total %v", tt.args, got, out["total_count"], tt.want, tt.total)
		}
	}
	// Amounts come back exactly as sent.
	out, _ := callJSON(t, cs, "get_webhook_events", map[string]any{"limit": 1})
	if p := out["events"].([]any)[0].(map[string]any)["payload"].(map[string]any); fmt.Sprint(p["crypto_amount"]) != "1.21461894" {
		t.Errorf("payload amount %v", p["crypto_amount"])
	}
	for _, bad := range []map[string]any{{"limit": 0}, {"limit": 501}, {"identifier": "no spaces allowed"}, {"validated_only": "yes"}} {
		out, isErr := callJSON(t, cs, "get_webhook_events", bad)
		if !isErr || out["error"].(map[string]any)["code"] != "INVALID_ARGUMENT" {
			t.Errorf("%v: %v", bad, out)
		}
	}
}

func TestWebhookURLTool(t *testing.T) {
	svc := payments.New(nil, store.NewMemory(), payments.Options{})
	tests := []struct {
		name      string
		w         *fakeWebhooks
		args      map[string]any
		code      string
		validated bool
	}{
		{"no url", &fakeWebhooks{urlErr: errNoURL}, nil, "WEBHOOK_URL_UNAVAILABLE", false},
		{"no url keeps the tunnel's code", &fakeWebhooks{urlErr: toolerr.New("TUNNEL_CONNECTION_FAILED", "down", nil)}, nil, "TUNNEL_CONNECTION_FAILED", false},
		{"url without validation", &fakeWebhooks{url: "https://x.example/webhook/bitnovo", provider: "manual"}, nil, "", false},
		{"validated", &fakeWebhooks{url: "https://x.example/webhook/bitnovo", provider: "manual"}, map[string]any{"validate": true}, "", true},
		{"validation fails", &fakeWebhooks{url: "https://x.example/webhook/bitnovo", provider: "manual", validErr: errNoURL}, map[string]any{"validate": true}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := connectInMemory(t, Deps{Payments: svc, Webhooks: tt.w})
			out, isErr := callJSON(t, cs, "get_webhook_url", tt.args)
			if tt.code != "" {
				if !isErr || out["error"].(map[string]any)["code"] != tt.code {
					t.Fatalf("%v", out)
				}
				return
			}
			if isErr || out["validated"] != tt.validated || out["webhook_url"] != tt.w.url || out["instructions"] == "" {
				t.Fatalf("%v", out)
			}
			if tt.w.validErr != nil && out["validation_error"] == nil {
				t.Fatalf("no validation_error: %v", out)
			}
		})
	}
}

// unsignedWebhooks runs without a device secret (WEBHOOK_ALLOW_UNSIGNED).
type unsignedWebhooks struct{ fakeWebhooks }

func (*unsignedWebhooks) DeviceSecretError() error { return errors.New("not set") }

func TestWebhookToolsWithoutDeviceSecret(t *testing.T) {
	svc := payments.New(nil, store.NewMemory(), payments.Options{})
	w := &unsignedWebhooks{fakeWebhooks{events: store.NewMemory(), url: "https://x.example/webhook/bitnovo", provider: "manual"}}
	cs := connectInMemory(t, Deps{Payments: svc, Webhooks: w})

	// validated_only (the default) can never match anything: say why.
	out, isErr := callJSON(t, cs, "get_webhook_events", nil)
	if !isErr || out["error"].(map[string]any)["code"] != CodeInvalidDeviceSecret {
		t.Fatalf("get_webhook_events: %v", out)
	}
	if out, isErr := callJSON(t, cs, "get_webhook_events", map[string]any{"validated_only": false}); isErr {
		t.Fatalf("validated_only=false must still list the unverified events: %v", out)
	}
	// The URL still works, with the code beside it.
	out, isErr = callJSON(t, cs, "get_webhook_url", nil)
	if isErr || out["webhook_url"] != w.url {
		t.Fatalf("get_webhook_url: %v", out)
	}
	if se, _ := out["secret_error"].(map[string]any); se["code"] != CodeInvalidDeviceSecret {
		t.Fatalf("secret_error = %v", out["secret_error"])
	}
	// With a secret (fakeWebhooks does not report a problem) there is none.
	cs = connectInMemory(t, Deps{Payments: svc, Webhooks: &w.fakeWebhooks})
	if out, _ := callJSON(t, cs, "get_webhook_url", nil); out["secret_error"] != nil {
		t.Fatalf("secret_error with a secret: %v", out)
	}
}

func TestValidIdentifier(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"abc-123", true}, {"pay:ref.1_x", true}, {strings.Repeat("a", 128), true},
		{"", false}, {strings.Repeat("a", 129), false}, {"a b", false}, {"a/b", false},
	} {
		if got := validIdentifier(tt.in); got != tt.want {
			t.Errorf("validIdentifier(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestWebhookEventsKeepNumbersExact: payload numbers travel as their exact
// text, however large, small or long, and an event is always listable. On
// main a signed payload with 1e400 made every get_webhook_events fail with
// INTERNAL_ERROR (the result went through float64), and long numbers were
// rounded. A number beyond the float64 range comes as a string of its text,
// so that clients which decode into float64 (the go-sdk's) still list it.
func TestWebhookEventsKeepNumbersExact(t *testing.T) {
	const id = "1040095a-737d-41a2-a2e1-d031d19ec8cd"
	tests := []struct {
		name, value, want string
	}{
		{"overflow", `1e400`, `"1e400"`},
		{"negative overflow", `-1E+400`, `"-1E+400"`},
		{"underflow", `1e-400`, `1e-400`},
		{"long mantissa", `0.100000000000000000000000000000000000000000000000000000001`, `0.100000000000000000000000000000000000000000000000000000001`},
		{"huge integer", `123456789012345678901234567890123456789012345678901234567890`, `123456789012345678901234567890123456789012345678901234567890`},
		{"int64 edge", `9223372036854775808`, `9223372036854775808`},
		{"minus zero", `-0`, `-0`},
		{"largest float64", `1.7976931348623157e308`, `1.7976931348623157e308`},
		{"plain", `1.21461894`, `1.21461894`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st := store.NewMemory()
			body := fmt.Sprintf(`{"identifier": %q, "status": "CO", "crypto_amount": %s, "nested": {"list": [%s, {"x": %s}]}}`, id, tt.value, tt.value, tt.value)
			if _, err := st.SaveEvent(ctx, store.Event{Identifier: id, Status: "CO", Nonce: "1", Validated: true, Payload: []byte(body)}, "", time.Time{}); err != nil {
				t.Fatal(err)
			}
			cs := connectInMemory(t, Deps{Payments: payments.New(nil, st, payments.Options{}), Webhooks: &fakeWebhooks{events: st}})
			for range 2 { // listable every time
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_webhook_events", Arguments: map[string]any{}})
				if err != nil {
					t.Fatalf("the client cannot decode the listing: %v", err)
				}
				text := res.Content[0].(*mcp.TextContent).Text
				if res.IsError {
					t.Fatalf("listing failed: %s", text)
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, []byte(text)); err != nil {
					t.Fatalf("text content is not JSON: %v", err)
				}
				for _, want := range []string{`"crypto_amount":` + tt.want, `"list":[` + tt.want + `,{"x":` + tt.want + `}]`} {
					if !strings.Contains(compact.String(), want) {
						t.Errorf("text content lacks %s: %s", want, compact.String())
					}
				}
			}
		})
	}
}

// FuzzWebhookPayloadListable: whatever JSON object a delivery carried, its
// listing encodes, decodes in a float64-based client, and keeps every
// number that a float64 can hold as its exact text.
func FuzzWebhookPayloadListable(f *testing.F) {
	for _, s := range []string{`{"a":1e400}`, `{"a":[-1E+400,{"b":1e-400}]}`, `{"a":0.1000000000000000000001}`, `{"a":"x","b":null,"c":true}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		var probe map[string]json.RawMessage
		if json.Unmarshal([]byte(payload), &probe) != nil || probe == nil {
			t.Skip()
		}
		out := WebhookEventOut{EventID: "x:1", Identifier: "x", Status: "CO", Payload: rawObject([]byte(payload))}
		res, err := successResult(Output[WebhookEventOut]{Value: out}, nil)
		if err != nil {
			t.Fatalf("payload %q: %v", payload, err)
		}
		var decoded any
		if err := json.Unmarshal(res.StructuredContent.(json.RawMessage), &decoded); err != nil {
			t.Fatalf("payload %q: a float64 client cannot decode %s: %v", payload, res.StructuredContent, err)
		}
		// Every number of the input (as decoded: the last of duplicate
		// keys) that float64 holds is in the output byte for byte.
		d := json.NewDecoder(strings.NewReader(payload))
		d.UseNumber()
		var in any
		if err := d.Decode(&in); err != nil {
			t.Skip()
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case json.Number:
				if _, err := strconv.ParseFloat(v.String(), 64); err == nil && !bytes.Contains(res.StructuredContent.(json.RawMessage), []byte(v.String())) {
					t.Fatalf("payload %q: number %s lost in %s", payload, v, res.StructuredContent)
				}
			case map[string]any:
				for _, e := range v {
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(in)
	})
}
