package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvTenantsFile names the tenants file.
const EnvTenantsFile = "CRYPTOPAY_TENANTS_FILE"

// maxTenantsFile bounds the file a server reads at start.
const maxTenantsFile = 1 << 20

// Tenants are several merchants behind one HTTP server: a claim of the
// caller's access token picks the tenant, and each tenant has its own
// provider credentials, limits and store (see ForTenant).
type Tenants struct {
	// Claim is the access-token claim whose value is a tenant's ID
	// (default "sub"; e.g. a custom "merchant" claim).
	Claim string
	List  []Tenant
}

// Tenant is one merchant.
type Tenant struct {
	ID                 string // the claim's value; also the tenant's data directory name
	DeviceID           string // Bitnovo device id (UUID)
	DeviceSecret       string // Bitnovo device secret (64 hex), for its webhooks
	BitrefillAPIID     string
	BitrefillAPISecret string
	PurchasesEnabled   bool
	MaxOrderCents      int64 // 0: the server-wide SHOP_MAX_ORDER_EUR
	DailyLimitCents    int64 // 0: the server-wide SHOP_DAILY_LIMIT_EUR
	// DatabaseURL is the tenant's own PostgreSQL database (postgres://…),
	// shared by the replicas that serve it; "" keeps its state in SQLite
	// under CRYPTOPAY_DATA_DIR/tenants/<id>.
	DatabaseURL string
}

// Find returns the tenant with id.
func (t *Tenants) Find(id string) (Tenant, bool) {
	i := slices.IndexFunc(t.List, func(x Tenant) bool { return x.ID == id })
	if i < 0 {
		return Tenant{}, false
	}
	return t.List[i], true
}

// tenantsFile is the file's shape (YAML, or JSON, which YAML reads too).
type tenantsFile struct {
	Claim   string `yaml:"claim"`
	Tenants []struct {
		ID                   string `yaml:"id"`
		BitnovoDeviceID      string `yaml:"bitnovo_device_id"`
		BitnovoDeviceSecret  string `yaml:"bitnovo_device_secret"`
		BitrefillAPIID       string `yaml:"bitrefill_api_id"`
		BitrefillAPISecret   string `yaml:"bitrefill_api_secret"`
		ShopPurchasesEnabled bool   `yaml:"shop_purchases_enabled"`
		DatabaseURL          string `yaml:"database_url"`
		// Amounts are read as written ("12.50" and 12.50 alike), never
		// through a float.
		ShopMaxOrderEUR   yaml.Node `yaml:"shop_max_order_eur"`
		ShopDailyLimitEUR yaml.Node `yaml:"shop_daily_limit_eur"`
	} `yaml:"tenants"`
}

// Tenant ids and claim names are at most 128 bytes, checked with len: a
// counted repetition such as {0,127} compiles to 127 copies of the class
// (118 KB and 1,700 allocations at start-up for each pattern).
var (
	tenantIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]*$`)
	claimRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.:/-]*$`)
)

// loadTenants reads and checks the tenants file. It must not be readable
// or writable by group or others (it holds secrets). live says whether
// device ids are required. Problems are one line each and name the tenant.
func loadTenants(path string, live bool, p *Problems) *Tenants {
	add := func(format string, args ...any) { *p = append(*p, EnvTenantsFile+": "+fmt.Sprintf(format, args...)) }
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err == nil {
			path = abs
		}
	}
	f, err := os.Open(path)
	if err != nil {
		add("cannot open %s: %v", path, errors.Unwrap(err))
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		add("cannot stat %s: %v", path, err)
		return nil
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		add("%s holds secrets but has mode %04o; run: chmod 600 %s", path, perm, path)
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTenantsFile+1))
	if err != nil || len(b) > maxTenantsFile {
		add("%s cannot be read or is over 1 MiB", path)
		return nil
	}
	var tf tenantsFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&tf); err != nil {
		add("%s is not valid YAML or JSON: %s", path, oneLineErr(err))
		return nil
	}
	t := &Tenants{Claim: tf.Claim}
	if t.Claim == "" {
		t.Claim = "sub"
	}
	if len(t.Claim) > 128 || !claimRE.MatchString(t.Claim) {
		add("claim %q is not a claim name", t.Claim)
	}
	if len(tf.Tenants) == 0 {
		add("%s lists no tenants", path)
	}
	// A webhook belongs to the tenant whose device secret verifies it: a
	// secret two tenants share would hand one's deliveries to the other.
	secrets := map[string]string{} // lower-case secret → tenant id
	// Two tenants in one database would read each other's records.
	databases := map[string]string{} // database_url → tenant id
	for i, raw := range tf.Tenants {
		name := fmt.Sprintf("tenant %d", i+1)
		if raw.ID != "" {
			name = fmt.Sprintf("tenant %q", raw.ID)
		}
		if len(raw.ID) > 128 || !tenantIDRE.MatchString(raw.ID) {
			add("%s: id must be 1-128 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
		}
		if _, dup := t.Find(raw.ID); dup {
			add("%s: listed twice", name)
		} else if i := slices.IndexFunc(t.List, func(x Tenant) bool { return strings.EqualFold(x.ID, raw.ID) }); i >= 0 {
			// The id names the tenant's data directory, which a
			// case-insensitive file system (macOS, Windows) would share.
			add("%s: differs from tenant %q only in case", name, t.List[i].ID)
		}
		tn := Tenant{ID: raw.ID, DeviceID: raw.BitnovoDeviceID, DeviceSecret: raw.BitnovoDeviceSecret,
			BitrefillAPIID: raw.BitrefillAPIID, BitrefillAPISecret: raw.BitrefillAPISecret, PurchasesEnabled: raw.ShopPurchasesEnabled}
		switch {
		case tn.DeviceID == "" && live:
			add("%s: bitnovo_device_id is required", name)
		case tn.DeviceID != "" && !uuidRE.MatchString(tn.DeviceID):
			add("%s: bitnovo_device_id must be a UUID", name)
		}
		if tn.DeviceSecret != "" && !secretRE.MatchString(tn.DeviceSecret) {
			add("%s: bitnovo_device_secret must be exactly 64 hexadecimal characters", name)
		}
		if tn.DeviceSecret != "" {
			k := strings.ToLower(tn.DeviceSecret)
			if other, dup := secrets[k]; dup {
				add("%s: bitnovo_device_secret is also tenant %q's (a webhook would be attributed to the first)", name, other)
			} else {
				secrets[k] = raw.ID
			}
		}
		if tn.DatabaseURL = strings.TrimSpace(raw.DatabaseURL); tn.DatabaseURL != "" {
			if msg := checkDatabaseURL(tn.DatabaseURL); msg != "" {
				add("%s: database_url %s", name, msg)
			} else if other, dup := databases[tn.DatabaseURL]; dup {
				add("%s: database_url is also tenant %q's; each tenant needs a database of its own", name, other)
			} else {
				databases[tn.DatabaseURL] = raw.ID
			}
		}
		if (tn.BitrefillAPIID == "") != (tn.BitrefillAPISecret == "") {
			add("%s: set both bitrefill_api_id and bitrefill_api_secret, or neither", name)
		}
		for _, a := range []struct {
			key  string
			node yaml.Node
			dst  *int64
		}{{"shop_max_order_eur", raw.ShopMaxOrderEUR, &tn.MaxOrderCents}, {"shop_daily_limit_eur", raw.ShopDailyLimitEUR, &tn.DailyLimitCents}} {
			if a.node.Kind == 0 {
				continue
			}
			if a.node.Kind != yaml.ScalarNode {
				add("%s: %s must be an amount", name, a.key)
				continue
			}
			v := a.node.Value
			*a.dst = eurCents(p, func(string) string { return v }, EnvTenantsFile+": "+name+": "+a.key, "1")
		}
		if tn.MaxOrderCents > 0 && tn.DailyLimitCents > 0 && tn.MaxOrderCents > tn.DailyLimitCents {
			add("%s: shop_max_order_eur is more than shop_daily_limit_eur", name)
		}
		t.List = append(t.List, tn)
	}
	return t
}

func oneLineErr(err error) string {
	return string(bytes.Join(bytes.Fields([]byte(err.Error())), []byte(" ")))
}

// ForTenant is the configuration of one tenant's services: its own
// credentials and limits, and its own data directory under DataDir, so
// no record of one tenant is ever in another's store.
func (c Config) ForTenant(t Tenant) Config {
	tc := c
	tc.Tenants = nil
	tc.DeviceID, tc.DeviceSecret = t.DeviceID, t.DeviceSecret
	tc.DataDir = filepath.Join(c.DataDir, "tenants", t.ID)
	tc.DatabaseURL = t.DatabaseURL
	tc.Shop.APIID, tc.Shop.APISecret = t.BitrefillAPIID, t.BitrefillAPISecret
	tc.Shop.PurchasesEnabled = c.Shop.PurchasesEnabled && t.PurchasesEnabled
	if t.MaxOrderCents > 0 {
		tc.Shop.MaxOrderCents = t.MaxOrderCents
	}
	if t.DailyLimitCents > 0 {
		tc.Shop.DailyLimitCents = t.DailyLimitCents
	}
	if tc.Shop.MaxOrderCents > tc.Shop.DailyLimitCents {
		tc.Shop.MaxOrderCents = tc.Shop.DailyLimitCents
	}
	return tc
}
