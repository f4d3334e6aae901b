// Command webhook-load measures the webhook receiver: it sends signed
// Bitnovo-style deliveries from many concurrent senders, or serves the
// receiver with a SQLite store for them to hit.
//
//	webhook-load [run] -url URL [-c 32] [-d 10s | -n N] [-secret HEX]
//	webhook-load serve [-addr 127.0.0.1:8787] [-db FILE] [-secret HEX]
//
// The secret defaults to $BITNOVO_DEVICE_SECRET, else to a fixed benchmark
// key; -secret "" with serve -unsigned sends and accepts unsigned bodies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook/loadgen"
)

// benchSecret is Bitnovo's published example key; used when nothing is set.
const benchSecret = "02d4b921007cad413e79731dd02b3267cd43a14d150a0ae6a1c651942122bb62"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && (args[0] == "run" || args[0] == "serve") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stdout, stderr)
	default:
		err = load(ctx, args, stdout, stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "webhook-load:", err)
		return 1
	}
	return 0
}

func secretFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("BITNOVO_DEVICE_SECRET")
	if def == "" {
		def = benchSecret
	}
	return fs.String("secret", def, "device secret, hex (empty = unsigned)")
}

func key(secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	return webhook.DecodeSecret(secret)
}

func load(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("webhook-load run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8787"+webhook.DefaultPath, "receiver webhook URL")
	conc := fs.Int("c", 32, "concurrent senders")
	dur := fs.Duration("d", 10*time.Second, "duration (0 with -n: until n requests)")
	n := fs.Int("n", 0, "total requests (0 = until -d)")
	rate := fs.Float64("rate", 0, "open loop: requests per second (latency from the scheduled time); 0 = closed loop, each sender sends as fast as answers come")
	secret := secretFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := key(*secret)
	if err != nil {
		return err
	}
	res, err := loadgen.Run(ctx, loadgen.Config{URL: *url, Key: k, Concurrency: *conc, Duration: *dur, Requests: *n, Rate: *rate})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	codes := make([]int, 0, len(res.Status))
	for c := range res.Status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	mode := "closed loop"
	if *rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f/s", *rate)
	}
	fmt.Fprintf(stdout, "%s, concurrency %d, %d requests in %s\n", mode, *conc, res.Sent, res.Elapsed.Round(time.Millisecond))
	for _, c := range codes {
		label := fmt.Sprint(c)
		if c == 0 {
			label = "transport error"
		}
		fmt.Fprintf(stdout, "  status %s: %d\n", label, res.Status[c])
	}
	fmt.Fprintf(stdout, "  %.0f req/s, %.0f acknowledged (200) per s\n", res.RPS, res.AckedPerSec)
	fmt.Fprintf(stdout, "  latency p50 %s  p90 %s  p99 %s  max %s\n",
		ms(res.P50), ms(res.P90), ms(res.P99), ms(res.Max))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("webhook-load serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8787", "listen address")
	dbPath := fs.String("db", "", "SQLite file (default: a new temporary directory)")
	dbURL := fs.String("database-url", "", "postgres:// URL: store in PostgreSQL instead of SQLite")
	secret := secretFlag(fs)
	unsigned := fs.Bool("unsigned", false, "accept unsigned deliveries when -secret is empty")
	verbose := fs.Bool("v", false, "log every delivery to stderr")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the serving period to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	k, err := key(*secret)
	if err != nil {
		return err
	}
	if *dbPath == "" {
		dir, err := os.MkdirTemp("", "webhook-load-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dbPath = filepath.Join(dir, "events.db")
	}
	var st store.Store
	if *dbURL != "" {
		st, err = store.OpenPostgres(ctx, *dbURL)
	} else {
		st, err = store.OpenSQLite(ctx, *dbPath)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	timed := &timedEvents{Events: st}
	rc, err := webhook.New(webhook.Options{
		Key: k, AllowUnsigned: *unsigned, Store: timed,
		RateLimit: webhook.RateLimit{Disabled: true}, // one loopback source sends everything
		Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := rc.Server(*addr)
	handlerLat := &latencies{}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.Now()
		rc.ServeHTTP(w, r)
		handlerLat.add(time.Since(t))
	})
	where := *dbPath
	if *dbURL != "" {
		where = "PostgreSQL"
	}
	fmt.Fprintf(stderr, "serving http://%s%s (store %s); Ctrl-C prints the store size\n", ln.Addr(), rc.Path(), where)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	stats, err := st.EventStats(context.Background())
	if err != nil {
		return err
	}
	lite, ok := st.(*store.SQLite)
	if !ok {
		fmt.Fprintf(stdout, "stored %d events in PostgreSQL\n", stats.TotalEvents)
		fmt.Fprintf(stdout, "inside the server: handler %s; store SaveEvent %s\n", handlerLat, &timed.lat)
		return nil
	}
	if _, err := lite.DB().Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	var size int64
	for _, p := range []string{*dbPath, *dbPath + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			size += fi.Size()
		}
	}
	fmt.Fprintf(stdout, "stored %d events; database %d bytes after checkpoint", stats.TotalEvents, size)
	if stats.TotalEvents > 0 {
		fmt.Fprintf(stdout, " = %.0f bytes/event", float64(size)/float64(stats.TotalEvents))
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "inside the server: handler %s; store SaveEvent %s\n", handlerLat, &timed.lat)
	return nil
}

// timedEvents records how long SaveEvent takes (queueing for the group
// commit included).
type timedEvents struct {
	store.Events
	lat latencies
}

func (t *timedEvents) SaveEvent(ctx context.Context, e store.Event, key string, until time.Time) (store.SaveResult, error) {
	start := time.Now()
	r, err := t.Events.SaveEvent(ctx, e, key, until)
	t.lat.add(time.Since(start))
	return r, err
}

type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return "no samples"
	}
	slices.Sort(l.d)
	n := len(l.d)
	return fmt.Sprintf("p50 %s p99 %s", ms(l.d[n/2]), ms(l.d[n*99/100]))
}
