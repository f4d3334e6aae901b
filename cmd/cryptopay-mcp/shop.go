package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/bitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/config"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/shop"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// startShop builds the shop service. In sandbox mode it serves the fake
// Bitrefill APIs on loopback and points the client at them with the fake's
// credentials, so every shop tool (purchases included, when enabled) works
// offline and says "sandbox": true. In live mode without Bitrefill
// credentials the catalogue tools use the real public API, as the original
// server did, and the account and purchase tools are not listed. The
// returned stop function shuts the fake down. observe (may be nil) sees
// every Bitrefill HTTP attempt, for metrics; hc sends the requests.
func startShop(cfg config.Config, st store.Shop, log *slog.Logger, observe func(endpoint, outcome string, attempt int, d time.Duration), hc *http.Client) (*shop.Service, func(), error) {
	sc := cfg.Shop
	sandbox := cfg.Sandbox()
	stop := func() {}
	opts := bitrefill.Options{
		PublicBaseURL: sc.PublicURL, V2BaseURL: sc.V2URL, APIID: sc.APIID, APISecret: sc.APISecret,
		AttemptTimeout: cfg.APITimeout, MaxRetries: cfg.MaxRetries, RetryBaseDelay: cfg.RetryDelay,
		UserAgent: "cryptopay-mcp/" + buildVersion(), Logger: log, Observe: observe, HTTPClient: hc,
	}
	if cfg.MaxRetries == 0 {
		opts.MaxRetries = -1 // 0 means "no retries" in our config, "default" in the client
	}
	if sandbox {
		fake, err := fakebitrefill.New(fakebitrefill.Config{})
		if err != nil {
			return nil, stop, err
		}
		ln, base, err := listen("127.0.0.1:0")
		if err != nil {
			return nil, stop, fmt.Errorf("Bitrefill sandbox: %w", err)
		}
		srv := serve(ln, fake)
		stop = func() { shutdown(srv) }
		opts.PublicBaseURL, opts.V2BaseURL = fakebitrefill.BaseURLs(base)
		opts.APIID, opts.APISecret = fake.Credentials()
		log.Info("Bitrefill sandbox listening", "public_api", opts.PublicBaseURL, "v2_api", opts.V2BaseURL)
	}
	c, err := bitrefill.New(opts)
	if err != nil {
		stop()
		return nil, func() {}, fmt.Errorf("BITREFILL_API_URL: %w", err)
	}
	return shop.New(c, st, shop.Options{
		Sandbox: sandbox, PurchasesEnabled: sc.PurchasesEnabled,
		MaxOrderCents: sc.MaxOrderCents, DailyLimitCents: sc.DailyLimitCents, Logger: log,
	}), stop, nil
}
