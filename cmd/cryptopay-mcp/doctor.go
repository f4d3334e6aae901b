package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/access"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/doctor"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/logging"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/metrics"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// runDoctor is `cryptopay-mcp doctor [--json]`: every check of the setup
// the server would use, with a fix for each failure. Exit 0 when nothing
// failed, 1 otherwise, 2 for a configuration that does not parse.
//
// The text report is printed line by line as the checks finish; a check
// still running after a couple of seconds gets a line on stderr saying
// what it waits for. The components the checks start log only warnings,
// and those are held back and printed after the report, never inside it.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	var f config.Flags
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.StringVar(&f.DataDir, "data-dir", "", "where state lives (overrides CRYPTOPAY_DATA_DIR)")
	fs.BoolVar(&f.Sandbox, "sandbox", false, "check the sandbox setup even if credentials are set")
	fs.StringVar(&f.Toolsets, "toolsets", "", "check only what these toolsets use (overrides CRYPTOPAY_TOOLSETS)")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	write := func(r doctor.Report) {
		if *asJSON {
			_ = r.WriteJSON(stdout)
		} else {
			_ = r.WriteText(stdout)
		}
	}
	cfg, err := config.Load(getenv, f)
	if err != nil {
		lines := strings.Split(err.Error(), "\n")
		for _, line := range lines {
			fmt.Fprintf(stderr, "cryptopay-mcp: config: %s\n", line)
		}
		if *asJSON {
			res := doctor.Failed("fix the variable named in the message (README: Environment variables)", "%s", strings.Join(lines, "; "))
			res.Name = "config"
			write(doctor.Report{Checks: []doctor.Result{res}})
		}
		return exitConfig
	}
	// The checks' own findings are the output; the components they start
	// only log warnings and errors, held back until the report is out.
	var held lockedBuffer
	log := logging.NewFormat(&held, "warn", cfg.LogFormat)
	defer func() {
		if held.Len() > 0 {
			fmt.Fprintln(stderr, "doctor: what the checked components logged:")
			_, _ = held.WriteTo(stderr)
		}
	}()
	checks, stop, err := doctorChecks(cfg, log)
	defer stop()
	if err != nil {
		fmt.Fprintf(stderr, "cryptopay-mcp: doctor: %v\n", err)
		return exitFail
	}
	opts := doctor.Options{Progress: stderr}
	if !*asJSON {
		opts.OnResult = func(r doctor.Result) { _ = r.WriteText(stdout) }
	}
	report := doctor.Run(ctx, checks, opts)
	if *asJSON {
		write(report)
	} else {
		_ = report.WriteSummary(stdout)
	}
	if !report.OK {
		return exitFail
	}
	return exitOK
}

// lockedBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger shared by the checks' goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *lockedBuffer) WriteTo(w io.Writer) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.WriteTo(w)
}

// doctorChecks lists the checks for cfg. In sandbox mode the provider
// checks run against the built-in fakes, started here and stopped by the
// returned function. With a tenants file every tenant's store and
// credentials are checked, each check named after its tenant; the webhook
// receiver, which they share, is checked once.
func doctorChecks(cfg config.Config, log *slog.Logger) ([]doctor.Check, func(), error) {
	var stops []func()
	stop := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	configDetail := fmt.Sprintf("%s mode, toolsets %s, data dir %s", cfg.Mode, cfg.Access.String(), cfg.DataDir)
	switch {
	case cfg.Tenants != nil:
		configDetail += fmt.Sprintf(", %d tenants picked by the %q claim", len(cfg.Tenants.List), cfg.Tenants.Claim)
	case !cfg.Sandbox():
		configDetail += ", device id " + config.MaskID(cfg.DeviceID)
	}
	checks := []doctor.Check{{Name: "config", Run: func(context.Context) doctor.Result { return doctor.Passed("%s", configDetail) }}}
	if cfg.DatabaseURL == "" {
		checks = append(checks, doctor.DataDir(cfg.DataDir))
	} else {
		checks = append(checks, doctor.Check{Name: "data dir", Run: func(context.Context) doctor.Result {
			return doctor.Skipped("state is in PostgreSQL (CRYPTOPAY_DATABASE_URL)")
		}})
	}
	if cfg.Tenants == nil {
		more, err := merchantChecks(cfg, log, &stops)
		if err != nil {
			return nil, stop, err
		}
		checks = append(checks, more...)
	}
	for _, t := range tenantsOf(cfg) {
		more, err := merchantChecks(cfg.ForTenant(t), log, &stops)
		if err != nil {
			return nil, stop, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		for _, c := range more {
			c.Name = "tenant " + t.ID + ": " + c.Name
			checks = append(checks, c)
		}
	}

	if !cfg.Webhook.Enabled {
		off := func(context.Context) doctor.Result { return doctor.Skipped("webhooks are off (WEBHOOK_ENABLED=false)") }
		checks = append(checks, doctor.Check{Name: "webhook receiver", Run: off}, doctor.Check{Name: "webhook URL", Run: off})
		return checks, stop, nil
	}
	checks = append(checks, doctor.Bind(cfg.Webhook.Addr()))
	checks = append(checks, doctor.Webhook(func(ctx context.Context) (doctor.WebhookEndpoint, func(), error) {
		// The server's own start-up path: receiver, tunnel, and the probe
		// of get_webhook_url validate=true. Probes are never stored.
		// With tenants the receiver is shared; one tenant's secret stands
		// for all in the probe (the server routes by whose secret verifies).
		wcfg := cfg
		if ts := tenantsOf(cfg); len(ts) > 0 {
			wcfg = cfg.ForTenant(ts[0])
		}
		a := &app{cfg: wcfg, log: log, metrics: metrics.New()}
		st := store.NewMemory()
		a.onClose(func() { _ = st.Close() })
		wh, err := a.startWebhooks(ctx, st, nil)
		if err != nil {
			a.Close()
			return nil, nil, err
		}
		return wh, a.Close, nil
	}))
	return checks, stop, nil
}

func tenantsOf(cfg config.Config) []config.Tenant {
	if cfg.Tenants == nil {
		return nil
	}
	return cfg.Tenants.List
}

// merchantChecks checks one merchant's store and provider credentials: the
// server's own, or one tenant's (cfg.ForTenant). Fakes it starts for the
// sandbox are stopped by the functions it appends to stops.
func merchantChecks(cfg config.Config, log *slog.Logger, stops *[]func()) ([]doctor.Check, error) {
	var checks []doctor.Check
	if cfg.DatabaseURL != "" {
		checks = append(checks, doctor.Store("PostgreSQL", func(ctx context.Context) (io.Closer, error) { return openStore(ctx, cfg, "") }))
	} else {
		checks = append(checks, doctor.Store("SQLite in "+filepath.Join(cfg.DataDir, "cryptopay.db"),
			func(ctx context.Context) (io.Closer, error) { return openStore(ctx, cfg, "") }))
	}

	// Only what the chosen toolsets use: a payments-only merchant never
	// needs Bitrefill, a shop-only one never Bitnovo.
	payments := cfg.Access.Enabled(access.Payments)
	shop := cfg.Access.Enabled(access.Shop) || cfg.Access.Enabled(access.ShopPurchase)
	notChosen := func(name, what string) doctor.Check {
		return doctor.Check{Name: name, Run: func(context.Context) doctor.Result {
			return doctor.Skipped("not used: %s are not among the chosen toolsets (%s)", what, cfg.Access.String())
		}}
	}
	bn := doctor.Bitnovo{BaseURL: cfg.BaseURL, DeviceID: cfg.DeviceID, Timeout: cfg.APITimeout, Sandbox: cfg.Sandbox()}
	bropts := bitrefill.Options{
		PublicBaseURL: cfg.Shop.PublicURL, V2BaseURL: cfg.Shop.V2URL, APIID: cfg.Shop.APIID, APISecret: cfg.Shop.APISecret,
		AttemptTimeout: cfg.APITimeout, MaxRetries: -1, UserAgent: "cryptopay-mcp-doctor/" + buildVersion(), Logger: log,
	}
	if cfg.Sandbox() && payments {
		_, base, stopFake, err := startFake(SandboxDeviceID, "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cannot start the sandbox: %w", err)
		}
		*stops = append(*stops, stopFake)
		bn.BaseURL, bn.DeviceID = base, SandboxDeviceID
	}
	if payments {
		checks = append(checks, bn.Checks()...)
	} else {
		checks = append(checks, notChosen("bitnovo", "the payment tools"))
	}
	if !shop {
		return append(checks, notChosen("bitrefill", "the shop tools")), nil
	}
	if cfg.Sandbox() {
		fake, err := fakebitrefill.New(fakebitrefill.Config{})
		if err != nil {
			return nil, fmt.Errorf("cannot start the Bitrefill sandbox: %w", err)
		}
		ln, rbase, err := listen("127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cannot start the Bitrefill sandbox: %w", err)
		}
		srv := serve(ln, fake)
		*stops = append(*stops, func() { shutdown(srv) })
		bropts.PublicBaseURL, bropts.V2BaseURL = fakebitrefill.BaseURLs(rbase)
		bropts.APIID, bropts.APISecret = fake.Credentials()
	}
	brc, err := bitrefill.New(bropts)
	if err != nil {
		return nil, fmt.Errorf("BITREFILL_API_URL: %w", err)
	}
	return append(checks, doctor.Bitrefill(brc, cfg.Sandbox())), nil
}
