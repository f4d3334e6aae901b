package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
)

func TestLoadAccess(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		flags    Flags
		toolsets []access.Toolset // nil: all
		readOnly bool
		problem  string
	}{
		{"default is everything", nil, Flags{}, nil, false, ""},
		{"env list", map[string]string{"CRYPTOPAY_TOOLSETS": "payments, shop"}, Flags{}, []access.Toolset{access.Payments, access.Shop}, false, ""},
		{"all spelled out is nil", map[string]string{"CRYPTOPAY_TOOLSETS": "shop-purchase,shop,webhooks,payments"}, Flags{}, nil, false, ""},
		{"flag wins", map[string]string{"CRYPTOPAY_TOOLSETS": "shop"}, Flags{Toolsets: "webhooks"}, []access.Toolset{access.Webhooks}, false, ""},
		{"read-only env", map[string]string{"CRYPTOPAY_READ_ONLY": "true"}, Flags{}, nil, true, ""},
		{"read-only flag", nil, Flags{ReadOnly: true}, nil, true, ""},
		{"read-only flag beats env false", map[string]string{"CRYPTOPAY_READ_ONLY": "false"}, Flags{ReadOnly: true}, nil, true, ""},
		{"unknown toolset", map[string]string{"CRYPTOPAY_TOOLSETS": "payments,wallet"}, Flags{}, nil, false,
			`CRYPTOPAY_TOOLSETS: unknown toolset "wallet" (valid: all, payments, webhooks, shop, shop-purchase)`},
		{"unknown toolset in flag", nil, Flags{Toolsets: "pay"}, nil, false, `--toolsets: unknown toolset "pay"`},
		{"bad boolean", map[string]string{"CRYPTOPAY_READ_ONLY": "maybe"}, Flags{}, nil, false, `CRYPTOPAY_READ_ONLY: "maybe" is not a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{"HOME": "/h"}
			for k, v := range tt.env {
				e[k] = v
			}
			c, err := Load(env(e), tt.flags)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) || strings.Count(err.Error(), "\n") != 0 {
					t.Fatalf("err = %v, want one line containing %s", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Access.Toolsets, tt.toolsets) || c.Access.ReadOnly != tt.readOnly {
				t.Errorf("Access = %+v", c.Access)
			}
			if !strings.Contains(c.String(), "toolsets=") || !strings.Contains(c.String(), "read_only=") {
				t.Errorf("String() lacks the access fields: %s", c)
			}
		})
	}
}

func TestUISwitch(t *testing.T) {
	tests := []struct {
		val     string
		want    bool
		problem string
	}{
		{"", true, ""},
		{"on", true, ""},
		{"off", false, ""},
		{"false", false, ""},
		{"sometimes", false, `CRYPTOPAY_UI: "sometimes" is not a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.val, func(t *testing.T) {
			c, err := Load(env(map[string]string{"HOME": "/h", "CRYPTOPAY_UI": tt.val}), Flags{})
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("err = %v, want %s", err, tt.problem)
				}
				return
			}
			if err != nil || c.UI != tt.want {
				t.Fatalf("CRYPTOPAY_UI=%q: UI = %t, err %v; want %t", tt.val, c.UI, err, tt.want)
			}
			if want := fmt.Sprintf(" ui=%t ", tt.want); !strings.Contains(c.String(), want) {
				t.Errorf("start-up line %q lacks %q", c.String(), want)
			}
		})
	}
}
