package webhook

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
)

// Router serves several merchants' receivers on one address: each
// delivery goes to the receiver whose device secret verifies its
// signature, so a webhook is attributed to its merchant by the secret
// alone and lands in that merchant's store only. A delivery no key
// verifies goes to the first receiver, which refuses it as it refuses any
// bad signature. GET /health and /stats are the first receiver's.
type Router struct {
	rs []*Receiver
	// limiter applies, before the body is read and verified against every
	// secret, the sum of the receivers' per-source limits (every tenant's
	// webhooks come from the same Bitnovo addresses): a flood costs no
	// HMACs, and legitimate traffic is limited no more than before.
	limiter *limiter
}

// NewRouter routes between rs, which must all be signed (an unsigned
// delivery could not be attributed) and share one path.
func NewRouter(rs ...*Receiver) (*Router, error) {
	if len(rs) == 0 {
		return nil, errors.New("webhook: router without receivers")
	}
	for _, r := range rs {
		if r.opts.Key == nil {
			return nil, errors.New("webhook: every receiver of a router needs a device secret")
		}
		if r.opts.Path != rs[0].opts.Path {
			return nil, errors.New("webhook: the receivers of a router must share one path")
		}
	}
	rl := rs[0].opts.RateLimit
	rl.PerSecond = cmp.Or(rl.PerSecond, defaultPerSecond) * float64(len(rs))
	rl.Burst = cmp.Or(rl.Burst, defaultBurst) * len(rs)
	return &Router{rs: rs, limiter: newLimiter(rl)}, nil
}

// ServeHTTP picks the receiver and lets it handle the request.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	first := rt.rs[0]
	if r.Method != http.MethodPost || r.URL.Path != first.opts.Path || len(rt.rs) == 1 {
		first.ServeHTTP(w, r)
		return
	}
	source := sourceOf(r, first.opts.TrustedProxies)
	if ok, wait := rt.limiter.allow(source, first.opts.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(wait.Seconds(), 1)))))
		first.refuse(w, r, source, refuseRate, nil)
		return
	}
	// Read at most one byte over the limit: the chosen receiver applies
	// the limit itself to the same bytes.
	head, err := io.ReadAll(io.LimitReader(r.Body, first.opts.MaxBody+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil || int64(len(head)) > first.opts.MaxBody {
		first.ServeHTTP(w, r)
		return
	}
	nonce, sig := r.Header.Get("X-Nonce"), r.Header.Get("X-Signature")
	for _, rc := range rt.rs {
		if Verify(rc.opts.Key, nonce, sig, head) == nil {
			rc.ServeHTTP(w, r)
			return
		}
	}
	first.ServeHTTP(w, r)
}

// Receivers are the routed receivers, first the default.
func (rt *Router) Receivers() []*Receiver { return rt.rs }
