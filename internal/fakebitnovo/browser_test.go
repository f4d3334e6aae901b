package fakebitnovo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// The browser test drives the checkout page in headless Chromium. It is
// skipped when no Chromium is installed, unless CRYPTOPAY_REQUIRE_BROWSER=1
// (CI), which turns a missing browser into a failure. With
// CRYPTOPAY_UPDATE_SCREENSHOT=1 it rewrites docs/sandbox-checkout.png
// (desktop) and docs/sandbox-checkout-mobile.png (390 px wide).

const screenshotDir = "../../docs"

// chromiumPath finds the browser or skips (fails when it is required).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CRYPTOPAY_REQUIRE_BROWSER") == "1" {
		t.Fatal("chromium not found and CRYPTOPAY_REQUIRE_BROWSER=1 (apt-get install chromium)")
	}
	t.Skip("chromium not found; set CRYPTOPAY_REQUIRE_BROWSER=1 to fail instead")
	return ""
}

// newBrowser starts one headless Chromium for the whole test.
func newBrowser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(720, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx); err != nil { // start the browser now, with no timeout of its own
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

func TestBrowserCheckout(t *testing.T) {
	chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	browser := newBrowser(t, ctx)

	rcv := newHookReceiver(t)
	fake := New(Options{DeviceID: testDevice, NotificationURL: rcv.srv.URL + "/webhooks/bitnovo", DeviceSecret: testSecret})
	t.Cleanup(func() { _ = fake.Close() })
	ts := httptest.NewServer(fake) // 127.0.0.1:0
	t.Cleanup(ts.Close)

	tests := []struct {
		button   string
		final    string
		timeline []string
		hooks    []string
	}{
		{"#pay-full", "CO", []string{"NR", "PE", "AC", "CO"}, []string{"PE", "AC", "CO"}},
		{"#expire", "EX", []string{"NR", "EX"}, []string{"EX"}},
		{"#cancel", "CA", []string{"NR", "CA"}, []string{"CA"}},
	}
	for _, tc := range tests {
		t.Run(strings.TrimPrefix(tc.button, "#"), func(t *testing.T) {
			id, webURL := createRedirectOrder(t, ts)
			tab, closeTab := chromedp.NewContext(browser)
			defer closeTab()

			statusIs := func(code string) chromedp.Action[bool] {
				return chromedp.Poll[bool](`document.getElementById("status").textContent === "`+code+`"`,
					chromedp.WithPollingTimeout(10*time.Second))
			}
			if err := chromedp.Do(tab,
				chromedp.Navigate(webURL),
				chromedp.WaitVisible(chromedp.ID("pay-full")),
			); err != nil {
				t.Fatalf("open %s: %v", webURL, err)
			}
			if name, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("header h1"))); err != nil || name != "Bitnovo Pay — sandbox" {
				t.Errorf("header %q, %v", name, err)
			}
			if _, err := chromedp.Run(tab, statusIs("NR")); err != nil {
				t.Fatalf("initial status: %v", err)
			}
			if err := chromedp.Do(tab, chromedp.Click(chromedp.ID(strings.TrimPrefix(tc.button, "#")))); err != nil {
				t.Fatalf("click %s: %v", tc.button, err)
			}
			if _, err := chromedp.Run(tab, statusIs(tc.final)); err != nil {
				st, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("status")))
				msg, _ := chromedp.Run(tab, chromedp.Text(chromedp.ID("message")))
				t.Fatalf("waiting for %s: %v (status %q, message %q)", tc.final, err, st, msg)
			}

			timeline, err := chromedp.Run(tab, chromedp.Evaluate[[]string](
				`Array.from(document.querySelectorAll("#timeline li")).map(li => li.dataset.status)`))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.timeline, timeline); diff != "" {
				t.Errorf("timeline (-want +got):\n%s", diff)
			}
			disabled, err := chromedp.Run(tab, chromedp.Evaluate[[]bool](
				`["pay-full","underpay","expire","cancel"].map(id => document.getElementById(id).disabled)`))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]bool{true, true, true, true}, disabled); diff != "" {
				t.Errorf("buttons disabled on a final order (-want +got):\n%s", diff)
			}
			if meaning, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("status-text"))); err != nil || meaning != statusNames[tc.final][1] {
				t.Errorf("status text %q, %v", meaning, err)
			}
			if tc.final == "CO" { // the currency chosen while paying: its QR appeared
				if _, err := chromedp.Run(tab, chromedp.Poll[bool](
					`(() => { const i = document.getElementById("qr"); return !document.getElementById("pay").hidden && i.complete && i.naturalWidth > 0; })()`,
					chromedp.WithPollingTimeout(10*time.Second))); err != nil {
					t.Errorf("no QR after the currency was chosen: %v", err)
				}
			}

			// Every change arrived at the receiver, signed.
			deadline := time.Now().Add(5 * time.Second)
			var got []hook
			for {
				got = got[:0]
				for _, h := range rcv.hooks() {
					if h.Payload["identifier"] == id {
						got = append(got, h)
					}
				}
				if len(got) >= len(tc.hooks) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if diff := cmp.Diff(tc.hooks, statusesOf(got)); diff != "" {
				t.Errorf("webhooks (-want +got):\n%s", diff)
			}
			for i, h := range got {
				if !h.Valid {
					t.Errorf("webhook %d (%s) signature does not verify", i, statusesOf(got[i:i+1]))
				}
			}

		})
	}
}

// createRedirectOrder creates a gateway order through the API, over HTTP.
func createRedirectOrder(t *testing.T, ts *httptest.Server) (id, webURL string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/api/v1/orders/",
		strings.NewReader(`{"expected_output_amount":"49.90","fiat":"EUR","notes":"Order #1042 · 2 × coffee beans"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Device-Id", testDevice)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Identifier string `json:"identifier"`
		WebURL     string `json:"web_url"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, err)
	}
	if !strings.HasPrefix(out.WebURL, ts.URL+"/") {
		t.Fatalf("web_url %q not on %s", out.WebURL, ts.URL)
	}
	return out.Identifier, out.WebURL
}

// TestBrowserCheckoutPage checks the parts of the page a paying person
// uses, at desktop width and at 390 px: the QR image loads, the countdown
// runs, the copy buttons hand the address and the amount to the clipboard
// and say so in a live region, nothing overflows sideways, the status
// change is announced, and an unknown link is a readable 404 page.
func TestBrowserCheckoutPage(t *testing.T) {
	chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	browser := newBrowser(t, ctx)
	fake := New(Options{DeviceID: testDevice})
	t.Cleanup(func() { _ = fake.Close() })
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)

	for _, vp := range []struct {
		name          string
		width, height int64
		shot          string
	}{
		{"desktop", 1280, 900, "sandbox-checkout.png"},
		{"390px", 390, 844, "sandbox-checkout-mobile.png"},
	} {
		t.Run(vp.name, func(t *testing.T) {
			order := createOnchainOrder(t, ts, "42.50", "ETH")
			tab, closeTab := chromedp.NewContext(browser)
			defer closeTab()
			if err := chromedp.Do(tab,
				chromedp.EmulateViewport(vp.width, vp.height),
				chromedp.Navigate(order.WebURL),
				chromedp.WaitVisible(chromedp.ID("copy-address")),
			); err != nil {
				t.Fatalf("open %s: %v", order.WebURL, err)
			}
			if _, err := chromedp.Run(tab, chromedp.Poll[bool](
				`(() => { const i = document.getElementById("qr"); return i.complete && i.naturalWidth === `+strconv.Itoa(qrSize)+`; })()`,
				chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Fatalf("QR image did not load: %v", err)
			}
			if amount, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("crypto-amount"))); err != nil || amount != "0.01416667 ETH" {
				t.Errorf("amount %q, %v", amount, err)
			}

			// The countdown runs down from the 15-minute window.
			first, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("countdown")))
			if err != nil || !strings.HasPrefix(first, "14:") && first != "15:00" {
				t.Fatalf("countdown %q, %v", first, err)
			}
			if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.getElementById("countdown").textContent !== "`+first+`"`,
				chromedp.WithPollingTimeout(5*time.Second))); err != nil {
				t.Fatalf("countdown stuck at %q: %v", first, err)
			}

			// Copy buttons: what reaches the clipboard API, and the live
			// announcement.
			if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](
				`window.copiedTexts = []; navigator.clipboard.writeText = t => { window.copiedTexts.push(t); return Promise.resolve(); };`)); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ button, want, said string }{
				{"copy-address", order.Address, "Address copied"},
				{"copy-amount", "0.01416667", "Amount copied"},
			} {
				if err := chromedp.Do(tab, chromedp.Click(chromedp.ID(c.button))); err != nil {
					t.Fatal(err)
				}
				if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.getElementById("copy-status").textContent === "`+c.said+`"`,
					chromedp.WithPollingTimeout(5*time.Second))); err != nil {
					t.Errorf("%s: no %q announcement: %v", c.button, c.said, err)
				}
			}
			copiedTexts, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.copiedTexts`))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{order.Address, "0.01416667"}, copiedTexts); diff != "" {
				t.Errorf("copied (-want +got):\n%s", diff)
			}

			// Nothing wider than the screen.
			if wide, err := chromedp.Run(tab, chromedp.Evaluate[bool](
				`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
				w, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
				t.Errorf("page is %d px wide in a %d px viewport (%v)", w, vp.width, err)
			}
			live, err := chromedp.Run(tab, chromedp.Evaluate[[]string](
				`[document.getElementById("status-box").getAttribute("aria-live"), document.querySelector("#test-controls legend").textContent]`))
			if err != nil || len(live) != 2 || live[0] != "polite" || !strings.Contains(live[1], "Test controls") {
				t.Errorf("live region and test controls: %v %v", live, err)
			}

			if os.Getenv("CRYPTOPAY_UPDATE_SCREENSHOT") == "1" {
				if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`document.getElementById("copy-status").textContent = ""`)); err != nil {
					t.Fatal(err)
				}
				png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(filepath.FromSlash(screenshotDir), vp.shot)
				if err := os.WriteFile(path, png, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %s (%d bytes)", path, len(png))
			}

			// A test control: the status change lands in the live region.
			if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("pay-full"))); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Run(tab, chromedp.Poll[bool](
				`document.getElementById("status-box").textContent.includes("Payment completed and confirmed")`,
				chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Errorf("completion not in the live region: %v", err)
			}
			if hidden, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById("timer").hidden`)); err != nil || !hidden {
				t.Errorf("countdown still shown on a completed payment (%v)", err)
			}
		})
	}

	t.Run("404", func(t *testing.T) {
		tab, closeTab := chromedp.NewContext(browser)
		defer closeTab()
		if err := chromedp.Do(tab, chromedp.Navigate(ts.URL+"/ZZZZZZZZ/")); err != nil {
			t.Fatal(err)
		}
		if title, err := chromedp.Run(tab, chromedp.Title()); err != nil || !strings.HasPrefix(title, "Payment not found") {
			t.Errorf("title %q, %v", title, err)
		}
	})
}

type onchainOrder struct {
	Identifier string `json:"identifier"`
	WebURL     string `json:"web_url"`
	Address    string `json:"address"`
}

// createOnchainOrder creates an order with a currency through the API.
func createOnchainOrder(t *testing.T, ts *httptest.Server, fiat, symbol string) onchainOrder {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/api/v1/orders/",
		strings.NewReader(`{"expected_output_amount":"`+fiat+`","input_currency":"`+symbol+`","notes":"Order #1042 · 2 × coffee beans"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Device-Id", testDevice)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out onchainOrder
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %v", resp.StatusCode, err)
	}
	return out
}
