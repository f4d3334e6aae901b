package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// Fake is an in-process stand-in for a tunnel service, for offline use
// and tests. Every connect opens a reverse proxy on a new 127.0.0.1 port
// that forwards to the local receiver; its base URL is the "public" URL.
// Drop, SetDown and SetUnhealthy simulate outages, so reconnects and URL
// refreshes can be tested. A Fake is safe for concurrent use.
type Fake struct {
	mu        sync.Mutex
	down      bool
	unhealthy bool
	cur       *fakeConn
	lastPort  int
	connects  int
}

// NewFake returns a Fake that is up.
func NewFake() *Fake { return &Fake{} }

// Drop closes the current connection: its port stops answering, and the
// Manager notices at once and reconnects (on a new port).
func (f *Fake) Drop() {
	f.mu.Lock()
	c := f.cur
	f.mu.Unlock()
	if c != nil {
		c.shutdown()
	}
}

// SetDown makes connect attempts fail while down is true.
func (f *Fake) SetDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// SetUnhealthy makes the proxy answer 503 to everything while bad is true,
// so health checks fail without the connection closing.
func (f *Fake) SetUnhealthy(bad bool) {
	f.mu.Lock()
	f.unhealthy = bad
	f.mu.Unlock()
}

// URL returns the current public URL, or "" when not connected.
func (f *Fake) URL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil || f.cur.isLost() {
		return ""
	}
	return f.cur.url
}

// Connects returns how many connects succeeded.
func (f *Fake) Connects() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects
}

func (f *Fake) isUnhealthy() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unhealthy
}

// open starts a proxy to local on a port different from the last one.
func (f *Fake) open(local *url.URL) (*fakeConn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("fake tunnel service is down")
	}
	var ln net.Listener
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		if l.Addr().(*net.TCPAddr).Port != f.lastPort {
			ln = l
			break
		}
		_ = l.Close()
	}
	if ln == nil {
		return nil, errors.New("listen: no new port")
	}
	f.lastPort = ln.Addr().(*net.TCPAddr).Port
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.DisableKeepAlives = true
	transport.Proxy = nil
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(local)
			r.SetXForwarded()
		},
		Transport: transport,
	}
	c := &fakeConn{
		url:    "http://" + ln.Addr().String(),
		gone:   make(chan struct{}),
		served: make(chan struct{}),
	}
	c.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if f.isUnhealthy() {
				http.Error(w, "fake tunnel unhealthy", http.StatusServiceUnavailable)
				return
			}
			rp.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(c.served)
		_ = c.srv.Serve(ln)
		c.shutdown()
	}()
	f.cur = c
	f.connects++
	return c, nil
}

type fakeConn struct {
	url    string
	srv    *http.Server
	once   sync.Once
	gone   chan struct{} // closed by shutdown
	served chan struct{} // closed when Serve returned
}

func (c *fakeConn) shutdown() {
	c.once.Do(func() {
		close(c.gone)
		_ = c.srv.Close()
	})
}

func (c *fakeConn) isLost() bool {
	select {
	case <-c.gone:
		return true
	default:
		return false
	}
}

// fakeProvider is one connection through a Fake.
type fakeProvider struct {
	fake   *Fake
	local  *url.URL
	path   string
	client *http.Client
	conn   *fakeConn
}

func (p *fakeProvider) connect(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c, err := p.fake.open(p.local)
	if err != nil {
		return "", connErr(ProviderFake, "connect", err, "the fake tunnel was set down")
	}
	p.conn = c
	return c.url, nil
}

func (p *fakeProvider) healthy(ctx context.Context) error {
	if p.conn == nil || p.conn.isLost() {
		return errors.New("fake tunnel dropped")
	}
	return probe(ctx, p.client, JoinURL(p.conn.url, p.path))
}

func (p *fakeProvider) lost() <-chan struct{} {
	if p.conn == nil {
		return nil
	}
	return p.conn.gone
}

func (p *fakeProvider) close() error {
	if p.conn != nil {
		p.conn.shutdown()
		<-p.conn.served
	}
	return nil
}

// parseLocal parses a LocalURL that validateLocalURL accepted.
func parseLocal(raw string) *url.URL {
	u, _ := url.Parse(raw)
	return u
}
