package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tenantsYAML = `claim: merchant
tenants:
  - id: acme
    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab
    bitnovo_device_secret: 02d4b921007cad413e79731dd02b3267cd43a14d150a0ae6a1c651942122bb62
    bitrefill_api_id: acme-id
    bitrefill_api_secret: acme-secret
    shop_purchases_enabled: true
    shop_max_order_eur: 12.50
    shop_daily_limit_eur: "30"
  - id: globex
    bitnovo_device_id: 22345678-abcd-4ef0-9abc-1234567890ab
`

func writeTenants(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTenantsFile(t *testing.T) {
	path := writeTenants(t, tenantsYAML, 0o600)
	c, err := Load(env(map[string]string{"HOME": "/h", EnvTenantsFile: path, "SHOP_PURCHASES_ENABLED": "true"}), Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeLive || c.Tenants == nil || c.Tenants.Claim != "merchant" || len(c.Tenants.List) != 2 {
		t.Fatalf("config: %+v tenants %+v", c, c.Tenants)
	}
	acme, ok := c.Tenants.Find("acme")
	if !ok || acme.MaxOrderCents != 1250 || acme.DailyLimitCents != 3000 || !acme.PurchasesEnabled {
		t.Fatalf("acme = %+v", acme)
	}
	tc := c.ForTenant(acme)
	if tc.DeviceID != acme.DeviceID || tc.Shop.APIID != "acme-id" || tc.Shop.MaxOrderCents != 1250 ||
		tc.DataDir != filepath.Join(c.DataDir, "tenants", "acme") || !tc.Shop.PurchasesEnabled || tc.BaseURL != DefaultBaseURL {
		t.Errorf("ForTenant(acme) = %+v", tc)
	}
	globex, _ := c.Tenants.Find("globex")
	if g := c.ForTenant(globex); g.Shop.PurchasesEnabled || g.Shop.HasCredentials() || g.Shop.MaxOrderCents != c.Shop.MaxOrderCents {
		t.Errorf("ForTenant(globex) = %+v", g.Shop)
	}
	if strings.Contains(c.String(), "acme-secret") || !strings.Contains(c.String(), "tenants=2 tenant_claim=merchant") {
		t.Errorf("String() = %s", c)
	}
	// JSON works too, and sandbox mode needs no device ids.
	jpath := writeTenants(t, `{"tenants": [{"id": "a", "database_url": "postgres://u:pw@db/a"}, {"id": "b"}]}`, 0o600)
	c, err = Load(env(map[string]string{"HOME": "/h", EnvTenantsFile: jpath, "CRYPTOPAY_SANDBOX": "true"}), Flags{})
	if err != nil || c.Mode != ModeSandbox || c.Tenants.Claim != "sub" || len(c.Tenants.List) != 2 {
		t.Fatalf("json: %v %+v", err, c.Tenants)
	}
	if a, b := c.ForTenant(c.Tenants.List[0]), c.ForTenant(c.Tenants.List[1]); a.DatabaseURL != "postgres://u:pw@db/a" || b.DatabaseURL != "" ||
		!strings.Contains(a.String(), "database=") || strings.Contains(a.String(), "pw") {
		t.Errorf("tenant databases: %q %q; %s", a.DatabaseURL, b.DatabaseURL, a)
	}
}

func TestTenantsFileProblems(t *testing.T) {
	tests := []struct {
		name string
		body string
		mode os.FileMode
		env  map[string]string
		want string
	}{
		{"readable by others", tenantsYAML, 0o644, nil, "has mode 0644; run: chmod 600"},
		{"not yaml", "tenants: [", 0o600, nil, "is not valid YAML or JSON"},
		{"unknown field", "tenants:\n  - id: a\n    device_id: x\n", 0o600, nil, "field device_id not found"},
		{"no tenants", "claim: sub\n", 0o600, nil, "lists no tenants"},
		{"bad id", "tenants:\n  - id: ../x\n    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab\n", 0o600, nil, "id must be"},
		{"id too long", "tenants:\n  - id: " + strings.Repeat("a", 129) + "\n", 0o600, map[string]string{"CRYPTOPAY_SANDBOX": "true"}, "id must be"},
		{"claim too long", "claim: " + strings.Repeat("c", 129) + "\ntenants:\n  - id: a\n", 0o600, map[string]string{"CRYPTOPAY_SANDBOX": "true"}, "claim"},
		{"duplicate", "tenants:\n  - id: a\n    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab\n  - id: a\n    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab\n", 0o600, nil, `tenant "a": listed twice`},
		{"ids differing in case", "tenants:\n  - id: acme\n    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab\n  - id: ACME\n    bitnovo_device_id: 22345678-abcd-4ef0-9abc-1234567890ab\n", 0o600, nil,
			`tenant "ACME": differs from tenant "acme" only in case`},
		{"shared device secret", "tenants:\n  - id: a\n    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab\n    bitnovo_device_secret: " + strings.Repeat("ab", 32) +
			"\n  - id: b\n    bitnovo_device_id: 22345678-abcd-4ef0-9abc-1234567890ab\n    bitnovo_device_secret: " + strings.Repeat("AB", 32) + "\n", 0o600, nil,
			`tenant "b": bitnovo_device_secret is also tenant "a"'s`},
		{"live needs device id", "tenants:\n  - id: a\n", 0o600, nil, `tenant "a": bitnovo_device_id is required`},
		{"half bitrefill", "tenants:\n  - id: a\n    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab\n    bitrefill_api_id: x\n", 0o600, nil, "set both bitrefill_api_id"},
		{"bad amount", "tenants:\n  - id: a\n    bitnovo_device_id: 12345678-abcd-4ef0-9abc-1234567890ab\n    shop_max_order_eur: 1e9\n", 0o600, nil, `shop_max_order_eur: "1e9" must be an amount`},
		{"global device id too", tenantsYAML, 0o600, map[string]string{"BITNOVO_DEVICE_ID": goodID}, "BITNOVO_DEVICE_ID: unset it with CRYPTOPAY_TENANTS_FILE"},
		{"postgres", tenantsYAML, 0o600, map[string]string{"CRYPTOPAY_DATABASE_URL": "postgres://db/x"}, "give each tenant its own database_url"},
		{"bad tenant database", "tenants:\n  - id: a\n    database_url: mysql://db/a\n", 0o600, map[string]string{"CRYPTOPAY_SANDBOX": "true"}, `tenant "a": database_url must be a postgres://`},
		{"shared tenant database", "tenants:\n  - id: a\n    database_url: postgres://db/x\n  - id: b\n    database_url: postgres://db/x\n", 0o600,
			map[string]string{"CRYPTOPAY_SANDBOX": "true"}, `tenant "b": database_url is also tenant "a"'s`},
		{"webhooks need secrets", tenantsYAML, 0o600, map[string]string{"WEBHOOK_ENABLED": "true", "TUNNEL_ENABLED": "false"}, `tenant "globex": bitnovo_device_secret is required`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := map[string]string{"HOME": "/h", EnvTenantsFile: writeTenants(t, tt.body, tt.mode)}
			for k, v := range tt.env {
				e[k] = v
			}
			_, err := Load(env(e), Flags{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Load(env(map[string]string{"HOME": "/h", EnvTenantsFile: "/nonexistent/t.yaml"}), Flags{}); err == nil ||
		!strings.Contains(err.Error(), "CRYPTOPAY_TENANTS_FILE: cannot open /nonexistent/t.yaml") {
		t.Errorf("missing file: %v", err)
	}
}
