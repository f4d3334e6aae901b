// Package loadgen sends signed Bitnovo-style webhooks to a receiver from
// many concurrent senders and measures what came back. It is used by the
// webhook crash test and by cmd/webhook-load.
package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/webhook"
)

// Config describes a run. Either Duration or Requests (or both) must be set.
type Config struct {
	URL         string        // the receiver's webhook URL
	Key         []byte        // HMAC key; nil sends unsigned deliveries
	Concurrency int           // concurrent senders (default 32)
	Duration    time.Duration // stop starting new requests after this long (0 = no limit)
	Requests    int           // total requests (0 = no limit)
	Timeout     time.Duration // per request (default 10 s)
	Now         func() time.Time
	Client      *http.Client // default: keep-alive transport sized to Concurrency
	// Body returns the payload of request seq (default: a Bitnovo-shaped body
	// unique to this run and seq).
	Body func(seq int64) []byte
	// KeepAcked records every 200-acknowledged delivery in Result.Acked.
	KeepAcked bool
	// OnResponse, when set, is called after every request with its status
	// (0 for a transport error). It must be safe for concurrent use.
	OnResponse func(status int)
}

// Delivery is one request as it was sent.
type Delivery struct {
	Seq       int64
	Nonce     string
	Signature string // "" when unsigned
	Body      []byte
	EventID   string // from the 200 answer
	Duplicate bool   // the receiver said it was a duplicate
}

// Result summarises a run. Latencies cover every request that got an HTTP
// answer.
type Result struct {
	Sent          int
	Status        map[int]int // HTTP status → count; 0 = transport error
	Elapsed       time.Duration
	RPS           float64 // answered requests per second
	AckedPerSec   float64 // 200 answers per second
	P50, P90, P99 time.Duration
	Max           time.Duration
	Acked         []Delivery // only with Config.KeepAcked
}

// Run sends the load and returns when the limits are reached or ctx ends.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.URL == "" {
		return Result{}, errors.New("loadgen: URL is required")
	}
	if cfg.Duration <= 0 && cfg.Requests <= 0 {
		return Result{}, errors.New("loadgen: set Duration or Requests")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 32
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.Client
	if client == nil {
		tr := &http.Transport{
			MaxIdleConns:        cfg.Concurrency,
			MaxIdleConnsPerHost: cfg.Concurrency,
			IdleConnTimeout:     30 * time.Second,
		}
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	if cfg.Body == nil {
		run := make([]byte, 4)
		_, _ = rand.Read(run)
		prefix := hex.EncodeToString(run)
		cfg.Body = func(seq int64) []byte { return DefaultBody(prefix, seq) }
	}

	var next atomic.Int64
	start := time.Now()
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	type workerOut struct {
		lat    []time.Duration
		status map[int]int
		acked  []Delivery
	}
	outs := make([]workerOut, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		wg.Go(func() {
			out := workerOut{status: map[int]int{}}
			defer func() { outs[w] = out }()
			for ctx.Err() == nil {
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				seq := next.Add(1)
				if cfg.Requests > 0 && seq > int64(cfg.Requests) {
					return
				}
				d := Delivery{Seq: seq, Nonce: strconv.FormatInt(cfg.Now().Unix(), 10), Body: cfg.Body(seq)}
				if cfg.Key != nil {
					d.Signature = webhook.Sign(cfg.Key, d.Nonce, d.Body)
				}
				t := time.Now()
				status, ans, err := deliver(ctx, client, cfg.URL, d, cfg.Timeout)
				if err == nil {
					out.lat = append(out.lat, time.Since(t))
				} else {
					status = 0
				}
				out.status[status]++
				if status == http.StatusOK && cfg.KeepAcked {
					d.EventID, d.Duplicate = ans.EventID, ans.Duplicate
					out.acked = append(out.acked, d)
				}
				if cfg.OnResponse != nil {
					cfg.OnResponse(status)
				}
			}
		})
	}
	wg.Wait()
	res := Result{Status: map[int]int{}, Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, o := range outs {
		lat = append(lat, o.lat...)
		for k, v := range o.status {
			res.Status[k] += v
			res.Sent += v
		}
		res.Acked = append(res.Acked, o.acked...)
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		res.P50, res.P90, res.P99, res.Max = lat[n/2], lat[n*9/10], lat[n*99/100], lat[n-1]
	}
	if s := res.Elapsed.Seconds(); s > 0 {
		res.RPS = float64(len(lat)) / s
		res.AckedPerSec = float64(res.Status[http.StatusOK]) / s
	}
	slices.SortFunc(res.Acked, func(a, b Delivery) int { return int(a.Seq - b.Seq) })
	return res, ctx.Err()
}

// Answer is the receiver's JSON answer.
type Answer struct {
	Success   bool   `json:"success"`
	EventID   string `json:"eventId"`
	Duplicate bool   `json:"duplicate"`
	Error     string `json:"error"`
	ErrorCode string `json:"errorCode"`
}

// Deliver sends d (as it was sent before, byte for byte) and returns the
// HTTP status and the decoded answer.
func Deliver(ctx context.Context, client *http.Client, url string, d Delivery) (int, Answer, error) {
	return deliver(ctx, client, url, d, 10*time.Second)
}

func deliver(ctx context.Context, client *http.Client, url string, d Delivery, timeout time.Duration) (int, Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(d.Body))
	if err != nil {
		return 0, Answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if d.Nonce != "" {
		req.Header.Set("X-Nonce", d.Nonce)
	}
	if d.Signature != "" {
		req.Header.Set("X-Signature", d.Signature)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, Answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, Answer{}, err
	}
	var a Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		return resp.StatusCode, Answer{}, fmt.Errorf("loadgen: answer %d is not JSON: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, a, nil
}

// DefaultBody is a Bitnovo-shaped notification (Python json.dumps spacing)
// whose identifier is unique to run and seq.
func DefaultBody(run string, seq int64) []byte {
	return fmt.Appendf(nil, `{"fiat_amount": 100.0, "status": "AC", "crypto_amount": 1.21461894, "unconfirmed_amount": 8.0, `+
		`"confirmed_amount": 0.0, "currency": "DASH", "identifier": "%08s-%04x-4%03x-a%03x-%012x"}`,
		run, seq>>40&0xffff, seq>>28&0xfff, seq>>16&0xfff, seq&0xffffffffffff)
}
