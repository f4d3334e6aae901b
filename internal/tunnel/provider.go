package tunnel

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// provider is one connection to a tunnel service. The Manager makes a
// new one for every connect attempt and closes it before the next.
type provider interface {
	// connect opens the tunnel and returns its public base URL. ctx
	// bounds the attempt only: the tunnel lives on until close.
	connect(ctx context.Context) (string, error)
	// healthy reports whether the tunnel still works.
	healthy(ctx context.Context) error
	// lost is closed when the provider learns by itself that the tunnel
	// is gone (the CLI exited, the endpoint closed); nil if it cannot tell.
	lost() <-chan struct{}
	// close releases everything connect started. It is safe to call
	// after a failed connect and more than once.
	close() error
}

// healthTimeout bounds one HTTP health probe, as in the TypeScript server.
const healthTimeout = 5 * time.Second

// newHealthClient returns a client for health probes that keeps no idle
// connections, so a closed provider leaves no goroutines behind.
func newHealthClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	return &http.Client{Transport: t, Timeout: healthTimeout}
}

// probe GETs u and wants a 2xx answer.
func probe(ctx context.Context, c *http.Client, u string) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("health probe: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("health probe GET %s: %w", u, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health probe GET %s: HTTP %d", u, resp.StatusCode)
	}
	return nil
}

// manualProvider is a public URL the operator already has.
type manualProvider struct {
	url    string
	probe  bool
	path   string
	client *http.Client
}

func (p *manualProvider) connect(ctx context.Context) (string, error) {
	if p.probe {
		if err := probe(ctx, p.client, JoinURL(p.url, p.path)); err != nil {
			return "", connErr(ProviderManual, "reachability check", err,
				"check that "+p.url+" points at this server and the firewall allows inbound HTTPS")
		}
	}
	return p.url, nil
}

func (p *manualProvider) healthy(ctx context.Context) error {
	if !p.probe {
		return nil
	}
	return probe(ctx, p.client, JoinURL(p.url, p.path))
}

func (p *manualProvider) lost() <-chan struct{} { return nil }

func (p *manualProvider) close() error { return nil }
