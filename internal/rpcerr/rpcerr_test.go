package rpcerr

import (
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
