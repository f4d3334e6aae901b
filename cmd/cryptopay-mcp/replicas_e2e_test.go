package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitnovo"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/fakebitrefill"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook/loadgen"
)

// End-to-end tests of replicas: several processes of the binary in live
// mode share one PostgreSQL schema (CRYPTOPAY_DATABASE_URL) and one fake
// Bitnovo API, and whatever one replica receives or decides holds on the
// others. They skip without CRYPTOPAY_TEST_DATABASE_URL
// (eval "$(bash .ci/postgres.sh start)").

// replicaSet is what the replicas of one test share: a fresh schema, the
// fake provider and the device secret that signs its webhooks.
type replicaSet struct {
	db         string // database URL with search_path set to the test's schema
	secretHex  string // BITNOVO_DEVICE_SECRET
	key        []byte // its HMAC key
	bitnovo    *fakebitnovo.Server
	bitnovoURL string
}

// replica is one running server process.
type replica struct {
	*server
	name       string
	webhookURL string // http://127.0.0.1:PORT/webhook/bitnovo, the receiver
}

func newReplicaSet(t *testing.T) *replicaSet {
	t.Helper()
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	rs := &replicaSet{db: replicaSchemaURL(t), secretHex: hex.EncodeToString(secret), key: secret}
	rs.bitnovo, rs.bitnovoURL = liveFake(t, testDevice, fakebitnovo.Options{})
	t.Cleanup(func() { _ = rs.bitnovo.Close() })
	return rs
}

// replicaSchemaURL creates a schema for t, dropped when t ends, and returns
// CRYPTOPAY_TEST_DATABASE_URL with search_path set to it (as the store's
// own PostgreSQL tests do).
func replicaSchemaURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CRYPTOPAY_TEST_DATABASE_URL")
	if base == "" {
		t.Skip("CRYPTOPAY_TEST_DATABASE_URL is not set (eval \"$(bash .ci/postgres.sh start)\")")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("CRYPTOPAY_TEST_DATABASE_URL must be a postgres:// URL for the binary: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to CRYPTOPAY_TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	schema := "r_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the replicas (cleanups run last
	// first) have closed their connections.
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs one replica in live mode with its own webhook receiver and
// data dir, connected over stdio; extra overrides the environment.
func (rs *replicaSet) start(t *testing.T, name string, opts *mcp.ClientOptions, extra map[string]string) *replica {
	t.Helper()
	env, public := rs.env(t, extra)
	s := startServerWith(t, opts, env)
	t.Cleanup(func() {
		if t.Failed() {
			out := s.stderr.String()
			if len(out) > 8000 {
				out = "…" + out[len(out)-8000:]
			}
			t.Logf("replica %s stderr:\n%s", name, out)
		}
	})
	return &replica{server: s, name: name, webhookURL: public + webhook.DefaultPath}
}

// env is the environment of one replica in live mode with its own webhook
// receiver and data dir, and the receiver's public URL; extra overrides it.
func (rs *replicaSet) env(t *testing.T, extra map[string]string) (env map[string]string, public string) {
	t.Helper()
	port := freePort(t)
	public = fmt.Sprintf("http://127.0.0.1:%d", port)
	env = baseEnv(t, t.TempDir())
	for k, v := range map[string]string{
		"LOG_LEVEL":              "info",
		"BITNOVO_DEVICE_ID":      testDevice,
		"BITNOVO_DEVICE_SECRET":  rs.secretHex,
		"BITNOVO_BASE_URL":       rs.bitnovoURL,
		"CRYPTOPAY_DATABASE_URL": rs.db,
		"WEBHOOK_ENABLED":        "true",
		"TUNNEL_ENABLED":         "false",
		"WEBHOOK_HOST":           "127.0.0.1",
		"WEBHOOK_PORT":           strconv.Itoa(port),
		"WEBHOOK_PUBLIC_URL":     public,
		"WEBHOOK_RATE_LIMIT":     "0",
	} {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return env, public
}

// callJSON calls a tool without touching t (safe in goroutines): the
// decoded structuredContent on success, else the error code.
func callJSON(s *server, name string, args map[string]any, out any) (code string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", fmt.Errorf("%s: protocol error: %w", name, err)
	}
	if res.IsError {
		var e toolError
		if err := json.Unmarshal([]byte(text(res)), &e); err != nil || e.Error.Code == "" {
			return "", fmt.Errorf("%s: not an error envelope: %s", name, text(res))
		}
		return e.Error.Code, nil
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, out); err != nil {
		return "", fmt.Errorf("%s: decode %s: %w", name, b, err)
	}
	return "", nil
}

type webhookEventsOut struct {
	Events []struct {
		EventID    string         `json:"event_id"`
		Identifier string         `json:"identifier"`
		Status     string         `json:"status"`
		Validated  bool           `json:"validated"`
		Payload    map[string]any `json:"payload"`
	} `json:"events"`
	TotalCount int `json:"total_count"`
}

// TestReplicaCrossPush: the provider delivers webhooks to replica A only;
// a client of replica B, which never sees an HTTP request, is notified
// (LISTEN/NOTIFY) and its wait_for_payment is woken by the webhook.
// awaitCount waits until count (read under mu) reaches want, waking on
// wake, but not past end; it returns the last count read.
func awaitCount(mu *sync.Mutex, count func() int, want int, wake <-chan struct{}, end time.Time) int {
	for {
		mu.Lock()
		n := count()
		mu.Unlock()
		wait := time.Until(end)
		if n >= want || wait <= 0 {
			return n
		}
		select {
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// crossPushBudget bounds how long after the CO delivery to A the push may
// reach B's client. It is a correctness bound (the push arrives), not a
// latency target: the test logs the latency, docs/benchmarks.md has the
// measured figures, and a loaded CI machine once took longer than 5 s.
const crossPushBudget = 20 * time.Second

func TestReplicaCrossPush(t *testing.T) {
	rs := newReplicaSet(t)
	var mu sync.Mutex
	var noteTimes []time.Time // resources/updated of the payment on B
	var uri string
	gotNote := make(chan struct{}, 1)
	progressed := make(chan struct{}, 64)
	opts := &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
			now := time.Now()
			mu.Lock()
			if r.Params.URI == uri {
				noteTimes = append(noteTimes, now)
			}
			mu.Unlock()
			select {
			case gotNote <- struct{}{}:
			default: // a wake-up is pending already
			}
		},
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
			select {
			case progressed <- struct{}{}:
			default:
			}
		},
	}
	a := rs.start(t, "A", nil, nil)
	b := rs.start(t, "B", opts, nil)

	// Each replica's public URL reaches its own receiver.
	for _, r := range []*replica{a, b} {
		var wu struct {
			WebhookURL string `json:"webhook_url"`
			Validated  bool   `json:"validated"`
		}
		r.ok(t, "get_webhook_url", map[string]any{"validate": true}, &wu)
		if wu.WebhookURL != r.webhookURL || !wu.Validated {
			t.Fatalf("replica %s get_webhook_url: %+v, want %s validated", r.name, wu, r.webhookURL)
		}
	}
	if err := rs.bitnovo.SetWebhookConfig(fakebitnovo.WebhookConfig{NotificationURL: a.webhookURL, DeviceSecret: rs.secretHex}); err != nil {
		t.Fatal(err)
	}

	var link struct {
		Identifier string `json:"identifier"`
		WebURL     string `json:"web_url"`
	}
	a.ok(t, "create_payment_link", map[string]any{"amount_eur": 25, "include_qr": false}, &link)
	mu.Lock()
	uri = "bitnovo://payments/" + link.Identifier
	mu.Unlock()
	ctx := context.Background()
	if err := b.session.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatalf("subscribe on B: %v", err)
	}

	type waitOut struct {
		Status         string `json:"status"`
		Reached        bool   `json:"reached"`
		WokenByWebhook bool   `json:"woken_by_webhook"`
		Checks         int    `json:"checks"`
	}
	type waitDone struct {
		out  waitOut
		code string
		err  error
		at   time.Time
	}
	done := make(chan waitDone, 1)
	go func() {
		params := &mcp.CallToolParams{Name: "wait_for_payment", Arguments: map[string]any{"identifier": link.Identifier, "timeout_seconds": 30}}
		params.SetProgressToken("replica-wait")
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		res, err := b.session.CallTool(cctx, params)
		d := waitDone{err: err, at: time.Now()}
		if err == nil {
			if res.IsError {
				d.code = text(res)
			} else {
				raw, _ := json.Marshal(res.StructuredContent)
				d.err = json.Unmarshal(raw, &d.out)
			}
		}
		done <- d
	}()
	// The wait reports the first status read (NR) before it sleeps.
	select {
	case <-progressed:
	case <-time.After(10 * time.Second):
		t.Fatal("wait_for_payment on B reported no progress")
	}

	simulate(t, link.WebURL, "pay")

	// The fake delivers each status change to A, in order.
	var sent []fakebitnovo.Delivery
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		sent = sent[:0]
		final := false
		for _, d := range rs.bitnovo.Deliveries() {
			if d.Identifier != link.Identifier {
				continue
			}
			if d.Result != fakebitnovo.DeliveryOK {
				t.Fatalf("delivery to A not accepted: %+v", d)
			}
			if d.URL != a.webhookURL {
				t.Fatalf("delivery went to %s, want A's %s", d.URL, a.webhookURL)
			}
			sent = append(sent, d)
			final = final || d.Status == "CO"
		}
		if final {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no CO delivery to A: %+v", sent)
		}
	}
	coSent := sent[len(sent)-1].Time

	var w waitDone
	select {
	case w = <-done: // already back (it may end on the read an earlier webhook woke)
	default:
		select {
		case w = <-done:
		case <-time.After(time.Until(coSent.Add(crossPushBudget))):
			t.Fatalf("wait_for_payment on B did not return within %v of the CO delivery to A", crossPushBudget)
		}
	}
	if w.err != nil || w.code != "" {
		t.Fatalf("wait_for_payment on B: %v %s", w.err, w.code)
	}
	if w.out.Status != "CO" || !w.out.Reached || !w.out.WokenByWebhook {
		t.Fatalf("wait_for_payment on B: %+v", w.out)
	}

	// One resources/updated on B per event A stored.
	if n := awaitCount(&mu, func() int { return len(noteTimes) }, len(sent), gotNote, coSent.Add(crossPushBudget)); n < len(sent) {
		t.Fatalf("B got %d resources/updated within %v of the CO delivery, want %d (one per delivery to A)", n, crossPushBudget, len(sent))
	}
	mu.Lock()
	var lat []string
	var coLatency time.Duration
	for i, d := range sent {
		l := noteTimes[i].Sub(d.Time)
		lat = append(lat, fmt.Sprintf("%s %v", d.Status, l.Round(100*time.Microsecond)))
		coLatency = l
	}
	mu.Unlock()
	t.Logf("delivery to A → resources/updated on B: %s; wait_for_payment on B returned %v after the CO delivery started",
		strings.Join(lat, ", "), w.at.Sub(coSent).Round(100*time.Microsecond))
	if coLatency >= crossPushBudget {
		t.Fatalf("CO reached B's client %v after the delivery to A", coLatency)
	}

	// B lists what A received, newest first.
	var evs webhookEventsOut
	b.ok(t, "get_webhook_events", map[string]any{"identifier": link.Identifier}, &evs)
	if len(evs.Events) != len(sent) || evs.TotalCount != len(sent) {
		t.Fatalf("B lists %d events (total %d), A was delivered %d", len(evs.Events), evs.TotalCount, len(sent))
	}
	for i, e := range evs.Events {
		want := sent[len(sent)-1-i]
		if e.Status != want.Status || !e.Validated || e.Identifier != link.Identifier ||
			e.EventID != link.Identifier+":"+want.Nonce || e.Payload["status"] != want.Status {
			t.Errorf("B event %d: %+v, want the %s delivery with nonce %s", i, e, want.Status, want.Nonce)
		}
	}
}

// TestReplicaListenOverHTTP: a 2026-07-28 client listens
// (subscriptions/listen) on replica A, served over HTTP, while the
// payment's webhooks land on replica B: every status B stores reaches A's
// listen stream through PostgreSQL's LISTEN/NOTIFY, whether A runs a
// webhook receiver of its own or none (an MCP-only replica behind a load
// balancer, the provider's webhooks going to another one).
func TestReplicaListenOverHTTP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		aReceiver bool
	}{
		{"A with its own receiver", true},
		{"A without a receiver", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := newReplicaSet(t)
			extra := map[string]string{}
			if !tc.aReceiver {
				extra["WEBHOOK_ENABLED"] = "false"
			}
			envA, _ := rs.env(t, extra)
			a := startHTTP(t, envA, "--listen", "127.0.0.1:0")
			t.Cleanup(func() {
				if t.Failed() {
					out := a.stderr.String()
					if len(out) > 8000 {
						out = "…" + out[len(out)-8000:]
					}
					t.Logf("replica A stderr:\n%s", out)
				}
			})
			var mu sync.Mutex
			var uri string
			var updates []time.Time // notifications/resources/updated of uri on A's listen stream
			got := make(chan struct{}, 1)
			ca := a.connectWith(t, headerTransport{}, &mcp.ClientOptions{
				ResourceUpdatedHandler: func(_ context.Context, r *mcp.ResourceUpdatedNotificationRequest) {
					now := time.Now()
					mu.Lock()
					if r.Params.URI == uri {
						updates = append(updates, now)
					}
					mu.Unlock()
					select {
					case got <- struct{}{}:
					default: // a wake-up is pending already
					}
				},
			}, "")
			if v := ca.session.InitializeResult().ProtocolVersion; v != rev2026 || ca.session.ID() != "" {
				t.Fatalf("A's client negotiated %s (session %q), want %s without a session", v, ca.session.ID(), rev2026)
			}
			b := rs.start(t, "B", nil, nil)
			if err := rs.bitnovo.SetWebhookConfig(fakebitnovo.WebhookConfig{NotificationURL: b.webhookURL, DeviceSecret: rs.secretHex}); err != nil {
				t.Fatal(err)
			}

			var link struct {
				Identifier string `json:"identifier"`
				WebURL     string `json:"web_url"`
			}
			ca.ok(t, "create_payment_link", map[string]any{"amount_eur": 12, "include_qr": false}, &link)
			mu.Lock()
			uri = "bitnovo://payments/" + link.Identifier
			mu.Unlock()
			// The go-sdk client subscribes with a subscriptions/listen
			// stream and returns once the server acknowledged it.
			if err := ca.session.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err != nil {
				t.Fatalf("listen on A: %v", err)
			}

			simulate(t, link.WebURL, "pay")

			// The fake delivers each status change to B, in order.
			var sent []fakebitnovo.Delivery
			for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				sent = sent[:0]
				final := false
				for _, d := range rs.bitnovo.Deliveries() {
					if d.Identifier != link.Identifier {
						continue
					}
					if d.Result != fakebitnovo.DeliveryOK || d.URL != b.webhookURL {
						t.Fatalf("delivery %+v: want accepted by B at %s", d, b.webhookURL)
					}
					sent = append(sent, d)
					final = final || d.Status == "CO"
				}
				if final {
					break
				}
				if time.Now().After(end) {
					t.Fatalf("no CO delivery to B: %+v", sent)
				}
			}

			// One update on A's listen stream per event B stored.
			coSent := sent[len(sent)-1].Time
			if n := awaitCount(&mu, func() int { return len(updates) }, len(sent), got, coSent.Add(crossPushBudget)); n < len(sent) {
				t.Fatalf("A's listen stream got %d resources/updated within %v of the CO delivery to B, want %d (one per delivery)", n, crossPushBudget, len(sent))
			}
			mu.Lock()
			var lat []string
			for i, d := range sent {
				lat = append(lat, fmt.Sprintf("%s %v", d.Status, updates[i].Sub(d.Time).Round(100*time.Microsecond)))
			}
			mu.Unlock()
			t.Logf("delivery to B → resources/updated on A's listen stream: %s", strings.Join(lat, ", "))

			// And A reads what B stored.
			var st struct {
				Status string `json:"status"`
			}
			ca.ok(t, "get_payment_status", map[string]any{"identifier": link.Identifier}, &st)
			if st.Status != "CO" {
				t.Errorf("A reads status %q, want CO", st.Status)
			}
		})
	}
}

// TestReplicaIdempotencyRace: one idempotency key used by 20 concurrent
// create_payment_link calls on two replicas creates exactly one order.
func TestReplicaIdempotencyRace(t *testing.T) {
	rs := newReplicaSet(t)
	reps := []*replica{rs.start(t, "A", nil, nil), rs.start(t, "B", nil, nil)}
	key := "order-" + rand.Text()
	args := map[string]any{"amount_eur": 42.5, "include_qr": false, "notes": "replica race", "idempotency_key": key}
	type linkOut struct {
		Identifier       string `json:"identifier"`
		WebURL           string `json:"web_url"`
		IdempotentReplay bool   `json:"idempotent_replay"`
	}
	type outcome struct {
		out     linkOut
		code    string
		err     error
		replica string
	}
	before := rs.bitnovo.OrderCount()
	const calls = 20
	results := make([]outcome, calls)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range calls {
		r := reps[i%len(reps)]
		wg.Go(func() {
			<-start
			o := outcome{replica: r.name}
			o.code, o.err = callJSON(r.server, "create_payment_link", args, &o.out)
			results[i] = o
		})
	}
	close(start)
	wg.Wait()

	if got := rs.bitnovo.OrderCount() - before; got != 1 {
		t.Fatalf("%d orders created for one idempotency key, want 1", got)
	}
	ids := map[string]int{}
	var id string
	fresh, inProgress := 0, 0
	for i, o := range results {
		switch {
		case o.err != nil:
			t.Fatalf("call %d on %s: %v", i, o.replica, o.err)
		case o.code == "IDEMPOTENCY_IN_PROGRESS":
			inProgress++
		case o.code != "":
			t.Fatalf("call %d on %s: %s", i, o.replica, o.code)
		default:
			id = o.out.Identifier
			ids[id]++
			if !o.out.IdempotentReplay {
				fresh++
			}
		}
	}
	t.Logf("%d calls: identifiers %v, %d in progress", calls, ids, inProgress)
	if len(ids) != 1 || fresh != 1 {
		t.Fatalf("successful calls returned identifiers %v, %d of them not marked idempotent_replay (want one identifier, one fresh)", ids, fresh)
	}
	for _, r := range reps {
		var later linkOut
		r.ok(t, "create_payment_link", args, &later)
		if later.Identifier != id || !later.IdempotentReplay {
			t.Fatalf("later call on %s: %+v, want a replay of %s", r.name, later, id)
		}
	}
	if got := rs.bitnovo.OrderCount() - before; got != 1 {
		t.Fatalf("%d orders after the replays, want 1", got)
	}
}

// TestReplicaDailyCapRace: balance payments raced across two replicas (each
// quoted on one replica and paid on the other) never exceed the daily cap
// together, and stop exactly where the cap says.
func TestReplicaDailyCapRace(t *testing.T) {
	rs := newReplicaSet(t)
	shop, err := fakebitrefill.New(fakebitrefill.Config{APIID: "replica-api-id", APISecret: shopSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(shop)
	t.Cleanup(srv.Close)
	pub, v2 := fakebitrefill.BaseURLs(srv.URL)
	id, secret := shop.Credentials()
	const capEUR = 40
	env := map[string]string{
		"BITREFILL_API_ID": id, "BITREFILL_API_SECRET": secret,
		"BITREFILL_PUBLIC_API_URL": pub, "BITREFILL_API_URL": v2,
		"SHOP_PURCHASES_ENABLED": "true",
		"SHOP_MAX_ORDER_EUR":     "30", "SHOP_DAILY_LIMIT_EUR": strconv.Itoa(capEUR),
	}
	reps := []*replica{rs.start(t, "A", nil, env), rs.start(t, "B", nil, env)}

	const invoices = 8
	type flow struct {
		created createOut
		quote   payOut
		cents   int64
		code    string // of the payment
		paid    bool
	}
	flows := make([]flow, invoices)
	errs := make(chan error, 2*invoices)
	// Create (and quote) concurrently: neither moves money.
	var wg sync.WaitGroup
	for i := range flows {
		f := &flows[i]
		r := reps[i%2]
		wg.Go(func() {
			if code, err := callJSON(r.server, "create_invoice", buyArgs(10), &f.created); err != nil || code != "" {
				errs <- fmt.Errorf("create_invoice on %s: %v %s", r.name, err, code)
				return
			}
			if code, err := callJSON(r.server, "pay_invoice", map[string]any{"id": f.created.Invoice.ID}, &f.quote); err != nil || code != "" {
				errs <- fmt.Errorf("quote on %s: %v %s", r.name, err, code)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range flows {
		f := &flows[i]
		if f.quote.Status != "confirmation_required" || f.quote.ConfirmationToken == "" || f.quote.Quote.AmountEUR != f.created.AmountEUR {
			t.Fatalf("quote %d: %+v (invoice %+v)", i, f.quote, f.created)
		}
		eur, err := strconv.ParseFloat(f.created.AmountEUR, 64)
		if err != nil {
			t.Fatalf("amount_eur %q: %v", f.created.AmountEUR, err)
		}
		f.cents = int64(eur*100 + 0.5)
		if f.cents != flows[0].cents {
			t.Fatalf("invoices priced differently: %d and %d cents", f.cents, flows[0].cents)
		}
	}
	payCalls := func() int {
		n := 0
		for i := range flows {
			n += shop.Requests("POST", "/v2/invoices/"+flows[i].created.Invoice.ID+"/pay")
		}
		return n
	}
	if n := payCalls(); n != 0 {
		t.Fatalf("quotes reached Bitrefill's pay endpoint %d times", n)
	}

	// Pay every invoice at once, each on the replica that did not quote it.
	start := make(chan struct{})
	perr := make([]error, invoices)
	for i := range flows {
		f := &flows[i]
		r := reps[(i+1)%2]
		wg.Go(func() {
			<-start
			var p payOut
			f.code, perr[i] = callJSON(r.server, "pay_invoice", map[string]any{"id": f.created.Invoice.ID, "confirmation_token": f.quote.ConfirmationToken}, &p)
			if perr[i] == nil && f.code == "" {
				f.paid = p.Paid
				if !p.Paid {
					perr[i] = fmt.Errorf("pay_invoice on %s: not paid: %+v", r.name, p)
				}
			}
		})
	}
	close(start)
	wg.Wait()

	var paid, paidCents int64
	for i, f := range flows {
		if perr[i] != nil {
			t.Fatal(perr[i])
		}
		switch {
		case f.paid:
			paid++
			paidCents += f.cents
		case f.code != "DAILY_LIMIT_EXCEEDED":
			t.Fatalf("pay %d: %s, want paid or DAILY_LIMIT_EXCEEDED", i, f.code)
		}
	}
	want := capEUR * 100 / flows[0].cents
	t.Logf("%d of %d invoices of %d cents paid across two replicas: %d cents of a %d EUR cap", paid, invoices, flows[0].cents, paidCents, capEUR)
	if paidCents > capEUR*100 {
		t.Fatalf("paid %d cents, over the %d EUR daily cap", paidCents, capEUR)
	}
	if paid != want {
		t.Fatalf("paid %d invoices, want %d (the cap fits %d of %d cents)", paid, want, want, flows[0].cents)
	}
	if n := payCalls(); int64(n) != paid {
		t.Fatalf("Bitrefill's pay endpoint was called %d times for %d payments", n, paid)
	}

	// The shared record agrees, and the cap holds for a late comer.
	st, err := store.OpenPostgres(context.Background(), rs.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spent, err := st.SpentOn(context.Background(), time.Now().UTC().Format(time.DateOnly))
	if err != nil {
		t.Fatal(err)
	}
	if spent != paidCents {
		t.Fatalf("the store counts %d cents spent today, the replicas paid %d", spent, paidCents)
	}
	for _, r := range reps {
		if e := r.fail(t, "create_invoice", buyArgs(10)); e.Error.Code != "DAILY_LIMIT_EXCEEDED" {
			t.Fatalf("create_invoice on %s after the cap: %+v", r.name, e)
		}
	}
}

// TestReplicaReplayRefusedEverywhere: a delivery accepted by one replica is
// a replay on every replica, the first one included.
func TestReplicaReplayRefusedEverywhere(t *testing.T) {
	rs := newReplicaSet(t)
	a := rs.start(t, "A", nil, nil)
	b := rs.start(t, "B", nil, nil)
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	d := loadgen.Delivery{Nonce: strconv.FormatInt(time.Now().Unix(), 10), Body: loadgen.DefaultBody(hex.EncodeToString(run), 1)}
	d.Signature = webhook.Sign(rs.key, d.Nonce, d.Body)
	ctx := context.Background()
	client := &http.Client{Timeout: 10 * time.Second}
	steps := []struct {
		name   string
		url    string
		status int
		code   string
	}{
		{"first delivery to A", a.webhookURL, http.StatusOK, ""},
		{"same bytes to B", b.webhookURL, http.StatusUnauthorized, "REPLAY_ATTACK"},
		{"same bytes to A again", a.webhookURL, http.StatusUnauthorized, "REPLAY_ATTACK"},
	}
	for _, st := range steps {
		status, ans, err := loadgen.Deliver(ctx, client, st.url, d)
		if err != nil || status != st.status || ans.ErrorCode != st.code {
			t.Fatalf("%s: HTTP %d %+v %v, want %d %q", st.name, status, ans, err, st.status, st.code)
		}
	}
	// Re-signed with a new nonce it is a new delivery of a known body: a
	// duplicate, not a second event.
	d2 := d
	d2.Nonce = strconv.FormatInt(time.Now().Unix()+1, 10)
	d2.Signature = webhook.Sign(rs.key, d2.Nonce, d2.Body)
	if status, ans, err := loadgen.Deliver(ctx, client, b.webhookURL, d2); err != nil || status != http.StatusOK || !ans.Duplicate {
		t.Fatalf("re-signed delivery to B: HTTP %d %+v %v, want 200 duplicate", status, ans, err)
	}
	var evs webhookEventsOut
	b.ok(t, "get_webhook_events", map[string]any{"limit": 500}, &evs)
	if evs.TotalCount != 1 {
		t.Fatalf("%d events stored, want 1: %+v", evs.TotalCount, evs.Events)
	}
}

// TestReplicaKilledMidLoad: replica A is SIGKILLed while 32 senders load
// its receiver; every delivery A acknowledged is stored exactly once, B
// sees them all, and B refuses each one re-sent as a replay.
func TestReplicaKilledMidLoad(t *testing.T) {
	rs := newReplicaSet(t)
	env := map[string]string{"LOG_LEVEL": "warn", "WEBHOOK_MAX_EVENTS": "10000000"}
	a := rs.start(t, "A", nil, env)
	b := rs.start(t, "B", nil, env)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const (
		loadFor   = 3 * time.Second
		killAfter = 1500 * time.Millisecond
	)
	killed := make(chan time.Time, 1)
	timer := time.AfterFunc(killAfter, func() {
		_ = a.cmd.Process.Kill() // SIGKILL: no shutdown, no flush
		killed <- time.Now()
	})
	defer timer.Stop()
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	res, err := loadgen.Run(ctx, loadgen.Config{
		URL: a.webhookURL, Key: rs.key, Concurrency: 32, Duration: loadFor, KeepAcked: true,
		Timeout: 5 * time.Second, Client: &http.Client{Transport: tr},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	default:
		t.Fatalf("the load ended before the kill: %v", res.Status)
	}
	t.Logf("sent %d in %v: %v; %d acknowledged", res.Sent, res.Elapsed.Round(time.Millisecond), res.Status, len(res.Acked))
	if len(res.Acked) < 100 || res.Status[0] == 0 {
		t.Fatalf("want ≥ 100 acknowledged and some failures after the kill, got %v", res.Status)
	}
	if res.Status[http.StatusOK]+res.Status[0] != res.Sent {
		t.Fatalf("statuses other than 200 and connection errors: %v", res.Status)
	}

	// Every acknowledged delivery is in the shared store, once.
	st, err := store.OpenPostgres(ctx, rs.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, total, err := st.ListEvents(ctx, store.EventQuery{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(events) || total < len(res.Acked) || total > res.Sent {
		t.Fatalf("stored %d (listed %d) for %d acknowledged of %d sent", total, len(events), len(res.Acked), res.Sent)
	}
	byHash := map[string]int{}
	byID := map[string]string{}
	for _, e := range events {
		byHash[e.BodyHash]++
		if _, dup := byID[e.EventID]; dup {
			t.Fatalf("event id %s stored twice", e.EventID)
		}
		byID[e.EventID] = e.BodyHash
	}
	for _, d := range res.Acked {
		sum := sha256.Sum256(d.Body)
		h := hex.EncodeToString(sum[:])
		if n := byHash[h]; n != 1 {
			t.Fatalf("acknowledged delivery %d (%s) stored %d times", d.Seq, d.EventID, n)
		}
		if d.Duplicate || byID[d.EventID] != h {
			t.Fatalf("acknowledged delivery %d: event id %s (duplicate %v) does not hold its body", d.Seq, d.EventID, d.Duplicate)
		}
	}
	t.Logf("stored: %d (%d acknowledged + %d committed while their answer was lost)", total, len(res.Acked), total-len(res.Acked))

	// B, which received none of them, lists them all.
	var evs webhookEventsOut
	b.ok(t, "get_webhook_events", map[string]any{"limit": 500}, &evs)
	if evs.TotalCount != total || len(evs.Events) != min(total, 500) {
		t.Fatalf("B lists %d events (total %d), the store holds %d", len(evs.Events), evs.TotalCount, total)
	}

	// Each acknowledged delivery re-sent byte for byte to B is a replay.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	work := make(chan loadgen.Delivery)
	var mu sync.Mutex
	var bad []string
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for d := range work {
				status, ans, err := loadgen.Deliver(ctx, client, b.webhookURL, d)
				if err != nil || status != http.StatusUnauthorized || ans.ErrorCode != "REPLAY_ATTACK" {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("re-send of %d: HTTP %d %+v %v", d.Seq, status, ans, err))
					mu.Unlock()
				}
			}
		})
	}
	for _, d := range res.Acked {
		work <- d
	}
	close(work)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d of %d re-sends to B not refused as replays; first: %s", len(bad), len(res.Acked), bad[0])
	}
	if _, total2, err := st.ListEvents(ctx, store.EventQuery{Limit: 1}); err != nil || total2 != total {
		t.Fatalf("re-sends changed the store: %d → %d (%v)", total, total2, err)
	}
}
