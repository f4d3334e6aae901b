package rpcerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
)

func TestCoded(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int64
	}{
		{"call before initialize", errors.New(`method "tools/list" is invalid during session initialization`), jsonrpc.CodeInvalidRequest},
		{"plain error", errors.New("boom"), jsonrpc.CodeInternalError},
		{"coded error kept", &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "no"}, jsonrpc.CodeMethodNotFound},
		{"wrapped coded error kept", fmt.Errorf("x: %w", &jsonrpc.Error{Code: -32021, Message: "caps"}), -32021},
		{"code 0 error", &jsonrpc.Error{Message: "zero"}, jsonrpc.CodeInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var we *jsonrpc.Error
			if !errors.As(Coded(tt.err), &we) || we.Code != tt.want {
				t.Fatalf("Coded(%v) = %v, want code %d", tt.err, we, tt.want)
			}
		})
	}
	if Coded(nil) != nil {
		t.Error("Coded(nil) is not nil")
	}
}

func TestRecode(t *testing.T) {
	tests := []struct {
		name, in, want string // want "": unchanged
	}{
		{"call before initialize",
			`{"jsonrpc":"2.0","id":7,"error":{"code":0,"message":"method \"tools/list\" is invalid during session initialization"}}`,
			`{"error":{"code":-32600,"message":"method \"tools/list\" is invalid during session initialization"},"id":7,"jsonrpc":"2.0"}`},
		{"other codeless error, string id and data kept",
			`{"jsonrpc":"2.0","id":"a<b>&","error":{"code":0,"message":"boom <x>","data":{"k":[1,2]}}}`,
			`{"error":{"code":-32603,"data":{"k":[1,2]},"message":"boom <x>"},"id":"a<b>&","jsonrpc":"2.0"}`},
		{"large id text kept",
			`{"jsonrpc":"2.0","id":123456789012345678901234567890,"error":{"code":0,"message":"x"}}`,
			`{"error":{"code":-32603,"message":"x"},"id":123456789012345678901234567890,"jsonrpc":"2.0"}`},
		{"error without an id gets null",
			`{"jsonrpc":"2.0","error":{"code":-32600,"message":"duplicate id"}}`,
			`{"error":{"code":-32600,"message":"duplicate id"},"id":null,"jsonrpc":"2.0"}`},
		{"batch",
			`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":2,"error":{"code":0,"message":"x"}}]`,
			`[{"jsonrpc":"2.0","id":1,"result":{}},{"error":{"code":-32603,"message":"x"},"id":2,"jsonrpc":"2.0"}]`},
		{"coded error", `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"x"}}`, ""},
		{"result with a code 0 inside", `{"jsonrpc":"2.0","id":1,"result":{"error":{"code":0,"message":"x"}}}`, ""},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/message","params":{"error":{"code":0}}}`, ""},
		{"error null", `{"jsonrpc":"2.0","id":1,"error":null}`, ""},
		{"a request", `{"jsonrpc":"2.0","id":1,"method":"x","error":{"code":0}}`, ""},
		{"not JSON", `{"jsonrpc":"2.0","error":{"code":0,`, ""},
		{"empty", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := Recode([]byte(tt.in))
			want := tt.want
			if want == "" {
				want = tt.in
			}
			if string(got) != want || changed != (tt.want != "") {
				t.Fatalf("Recode(%s)\n = %s (changed %v)\nwant %s", tt.in, got, changed, want)
			}
			if changed && !MayNeed([]byte(tt.in)) {
				t.Fatalf("MayNeed(%s) is false for a message Recode changes", tt.in)
			}
		})
	}
}

func FuzzRecode(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":7,"error":{"code":0,"message":"m"}}`))
	f.Add([]byte(`[{"jsonrpc":"2.0","error":{"code":0}}]`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	f.Add([]byte(`{"jsonrpc":"2.0","id":"a\\"b","error":{"code":0,"message":"m"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, changed := Recode(b)
		if !changed {
			if string(out) != string(b) {
				t.Fatalf("unchanged but different: %q -> %q", b, out)
			}
			return
		}
		if again, ch := Recode(out); ch {
			t.Fatalf("not idempotent: %q -> %q -> %q", b, out, again)
		}
	})
}

// FuzzMayNeed: on any answer as the go-sdk encodes it, MayNeed is true
// whenever Recode changes it (the writer skips what MayNeed rules out).
func FuzzMayNeed(f *testing.F) {
	f.Add("", int64(7), int64(0), "method \"x\" is invalid during session initialization", true, false)
	f.Add("a\"b", int64(0), int64(0), "m", true, false)
	f.Add("", int64(1), int64(-32601), "m", true, false)
	f.Add("", int64(1), int64(0), "", false, false)
	f.Add("", int64(0), int64(0), "m", true, true)
	f.Fuzz(func(t *testing.T, sid string, nid, code int64, message string, isErr, noID bool) {
		var id jsonrpc.ID
		var err error
		switch {
		case noID:
		case sid != "":
			id, err = jsonrpc.MakeID(sid)
		default:
			id, err = jsonrpc.MakeID(float64(nid))
		}
		if err != nil {
			t.Skip()
		}
		resp := &jsonrpc.Response{ID: id, Result: json.RawMessage(`{"content":[{"type":"text","text":"{\\"error\\":{\\"code\\":0,"}]}`)}
		if isErr {
			resp = &jsonrpc.Response{ID: id, Error: &jsonrpc.Error{Code: code, Message: message}}
		}
		b, err := jsonrpc.EncodeMessage(resp)
		if err != nil {
			t.Skip()
		}
		if _, changed := Recode(b); changed && !MayNeed(b) {
			t.Fatalf("MayNeed(%s) is false, but Recode changes it", b)
		}
		if !isErr && MayNeed(b) {
			t.Fatalf("MayNeed(%s) is true for a result", b)
		}
	})
}

func TestID(t *testing.T) {
	tests := []struct {
		raw   string
		want  any
		valid bool
	}{
		{`7`, 7.0, true}, {`-9007199254740991`, -9007199254740991.0, true}, {`9007199254740991`, 9007199254740991.0, true},
		{`0`, 0.0, true}, {`-0`, 0.0, true}, {` 12 `, 12.0, true}, {`"x"`, "x", true}, {`"a\"b"`, `a"b`, true}, {`""`, "", true},
		{`9007199254740992`, nil, false}, {`-9007199254740992`, nil, false}, {`12345678901234567`, nil, false},
		{`1.5`, nil, false}, {`1e2`, nil, false}, {`01`, nil, false}, {`-`, nil, false}, {`1-`, nil, false},
		{`null`, nil, false}, {`{}`, nil, false}, {`[1]`, nil, false}, {`true`, nil, false}, {`"x`, nil, false}, {``, nil, false},
	}
	for _, tt := range tests {
		got, ok := ID(json.RawMessage(tt.raw))
		if ok != tt.valid || got != tt.want {
			t.Errorf("ID(%s) = %v, %v; want %v, %v", tt.raw, got, ok, tt.want, tt.valid)
		}
	}
}
