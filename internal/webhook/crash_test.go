package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook/loadgen"
)

// Bitnovo's published example key.
const vectorKeyHex = "02d4b921007cad413e79731dd02b3267cd43a14d150a0ae6a1c651942122bb62"

// childDBEnv makes the test binary a receiver process (see runChild).
const childDBEnv = "WEBHOOK_TEST_CHILD_DB"

func TestMain(m *testing.M) {
	if db := os.Getenv(childDBEnv); db != "" {
		os.Exit(runChild(db))
	}
	goleak.VerifyTestMain(m)
}

// runChild serves the receiver with a SQLite store at db on 127.0.0.1:0,
// prints "ADDR host:port", and runs until killed or until stdin closes (so
// it never outlives its parent).
func runChild(db string) int {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	key, _ := webhook.DecodeSecret(vectorKeyHex)
	rc, err := webhook.New(webhook.Options{Key: key, Store: st, RateLimit: webhook.RateLimit{Disabled: true}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	srv := rc.Server("")
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("ADDR %s\n", ln.Addr())
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // parent gone or done
	_ = srv.Close()
	_ = st.Close()
	return 0
}

type child struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
	stdin  interface{ Close() error }
}

func startChild(t *testing.T, db string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDBEnv+"="+db)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}, stdin: stdin}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("child did not start: %q %v\n%s", line, err, c.stderr)
	}
	c.url = "http://" + strings.TrimSpace(strings.TrimPrefix(line, "ADDR ")) + webhook.DefaultPath
	return c
}

// TestCrashKeepsEveryAcknowledgedDelivery: kill -9 the receiver under load;
// every delivery that got a 200 must be stored exactly once, and re-sending
// it must be refused as a replay.
func TestCrashKeepsEveryAcknowledgedDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes and sends thousands of requests")
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "events.db")
	key, err := webhook.DecodeSecret(vectorKeyHex)
	if err != nil {
		t.Fatal(err)
	}

	first := startChild(t, db)
	const killAfter = 1500
	var acked atomic.Int64
	killed := make(chan struct{})
	var once sync.Once
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	res, err := loadgen.Run(ctx, loadgen.Config{
		URL: first.url, Key: key, Concurrency: 32, Requests: 8000, KeepAcked: true,
		Client: &http.Client{Transport: tr},
		OnResponse: func(status int) {
			if status == http.StatusOK && acked.Add(1) == killAfter {
				once.Do(func() {
					_ = first.cmd.Process.Kill() // SIGKILL: no shutdown, no final checkpoint
					close(killed)
				})
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
	default:
		t.Fatalf("the load ended before the kill: %+v", res.Status)
	}
	_ = first.cmd.Wait()
	t.Logf("sent %d: %v; %d acknowledged", res.Sent, res.Status, len(res.Acked))
	if len(res.Acked) < killAfter || res.Status[0] == 0 {
		t.Fatalf("want ≥ %d acknowledged and some failures after the kill, got %v", killAfter, res.Status)
	}
	if res.Status[http.StatusOK]+res.Status[0] != res.Sent {
		t.Fatalf("unexpected statuses: %v", res.Status)
	}

	// Restart on the same database.
	second := startChild(t, db)
	reader, err := store.OpenSQLite(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	events, total, err := reader.ListEvents(ctx, store.EventQuery{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if total != len(events) || total < len(res.Acked) || total > res.Sent {
		t.Fatalf("stored %d (listed %d) for %d acknowledged of %d sent", total, len(events), len(res.Acked), res.Sent)
	}
	t.Logf("stored after restart: %d (%d acknowledged + %d of the requests in flight at the kill)",
		total, len(res.Acked), total-len(res.Acked))
	byHash := map[string]int{}
	byID := map[string]bool{}
	for _, e := range events {
		byHash[e.BodyHash]++
		if byID[e.EventID] {
			t.Fatalf("event id %s stored twice", e.EventID)
		}
		byID[e.EventID] = true
	}
	for _, d := range res.Acked {
		sum := sha256.Sum256(d.Body)
		if n := byHash[hex.EncodeToString(sum[:])]; n != 1 {
			t.Fatalf("acknowledged delivery %d (%s) stored %d times", d.Seq, d.EventID, n)
		}
	}

	// Every acknowledged delivery, re-sent byte for byte, is a replay.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	work := make(chan loadgen.Delivery)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for d := range work {
				status, a, err := loadgen.Deliver(ctx, client, second.url, d)
				if err != nil || status != http.StatusUnauthorized || a.ErrorCode != "REPLAY_ATTACK" {
					t.Errorf("re-send of %d: %d %+v %v", d.Seq, status, a, err)
				}
			}
		})
	}
	for _, d := range res.Acked {
		work <- d
	}
	close(work)
	wg.Wait()
	if _, total2, _ := reader.ListEvents(ctx, store.EventQuery{Limit: 1}); total2 != total {
		t.Fatalf("re-sends changed the store: %d → %d", total, total2)
	}
}
