package tunnel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"golang.ngrok.com/ngrok/v2"
)

// ngrokPlan is what an ngrok connect will ask for; built separately from
// the SDK calls so that it can be tested offline.
type ngrokPlan struct {
	upstream    string // the local receiver
	endpointURL string // "https://<domain>" or "" for a random URL
}

func planNgrok(cfg *Config) (ngrokPlan, error) {
	p := ngrokPlan{upstream: cfg.LocalURL}
	if cfg.NgrokDomain != "" {
		u, err := ngrokEndpointURL(cfg.NgrokDomain)
		if err != nil {
			return p, err
		}
		p.endpointURL = u
	}
	return p, nil
}

// ngrokEndpointURL turns NGROK_DOMAIN ("name.ngrok-free.app",
// "https://name.ngrok-free.app" or "hooks.example.com") into the
// endpoint URL ngrok.WithURL wants.
func ngrokEndpointURL(domain string) (string, error) {
	d := strings.TrimSpace(domain)
	if !strings.Contains(d, "://") {
		d = "https://" + d
	}
	u, err := url.Parse(d)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not a domain name", domain)
	}
	if u.Scheme != "https" {
		return "", fmt.Errorf("%q: webhooks need an https endpoint", domain)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", fmt.Errorf("%q: give only the domain name, without a path", domain)
	}
	return "https://" + u.Host, nil
}

// ngrokPermanent reports ngrok error codes that retrying cannot fix: a
// malformed (105), v1 (106), invalid (107) or revoked (300) authtoken, or
// none at all (4018).
func ngrokPermanent(code string) bool {
	switch code {
	case "ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107", "ERR_NGROK_300", "ERR_NGROK_4018":
		return true
	}
	return false
}

// ngrokCause shortens the SDK's connect error: an ngrok service error if
// there is one, else the last of the accumulated retry errors.
func ngrokCause(err error) error {
	if err == nil {
		return nil
	}
	var ne ngrok.Error
	if errors.As(err, &ne) {
		return ne
	}
	for {
		var multi interface{ Unwrap() []error }
		if !errors.As(err, &multi) {
			return err
		}
		errs := multi.Unwrap()
		var last error
		for _, e := range errs {
			if e != nil && !errors.Is(e, context.Canceled) && !errors.Is(e, context.DeadlineExceeded) {
				last = e
			}
		}
		if last == nil {
			return err
		}
		err = last
	}
}

// ngrokProvider runs an in-process ngrok agent that forwards to the local
// receiver. Health is the agent session's state, kept up to date from the
// SDK's connect/disconnect events.
type ngrokProvider struct {
	authtoken string
	plan      ngrokPlan
	log       *slog.Logger
	extra     []ngrok.AgentOption // tests: connect URL, dialer

	mu      sync.Mutex
	up      bool
	downErr error

	agent  ngrok.Agent
	fwd    ngrok.EndpointForwarder
	cancel context.CancelFunc
}

func (p *ngrokProvider) onEvent(ev ngrok.Event) {
	switch e := ev.(type) {
	case *ngrok.EventAgentConnectSucceeded:
		p.mu.Lock()
		p.up, p.downErr = true, nil
		p.mu.Unlock()
	case *ngrok.EventAgentDisconnected:
		p.mu.Lock()
		p.up = false
		if e.Error != nil {
			p.downErr = e.Error
		}
		p.mu.Unlock()
		if e.Error != nil && !errors.Is(e.Error, context.Canceled) {
			p.log.Warn("ngrok session disconnected", "error", e.Error)
		}
	}
}

func (p *ngrokProvider) agentOptions() []ngrok.AgentOption {
	opts := []ngrok.AgentOption{
		ngrok.WithAuthtoken(p.authtoken),
		ngrok.WithLogger(p.log),
		ngrok.WithEventHandler(p.onEvent),
	}
	return append(opts, p.extra...)
}

func (p *ngrokProvider) endpointOptions() []ngrok.EndpointOption {
	opts := []ngrok.EndpointOption{ngrok.WithDescription("cryptopay-mcp webhook receiver")}
	if p.plan.endpointURL != "" {
		opts = append(opts, ngrok.WithURL(p.plan.endpointURL))
	}
	return opts
}

func (p *ngrokProvider) connect(ctx context.Context) (string, error) {
	agent, err := ngrok.NewAgent(p.agentOptions()...)
	if err != nil {
		return "", connErr(ProviderNgrok, "create agent", err, "")
	}
	// The SDK ties the session and the forwarding loop to the context it
	// is given, so they get one that lives until close; ctx only bounds
	// this attempt.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	p.mu.Lock()
	p.agent, p.cancel = agent, cancel
	p.mu.Unlock()

	fwd, err := agent.Forward(life, ngrok.WithUpstream(p.plan.upstream), p.endpointOptions()...)
	if ended := !stop(); ended || err != nil {
		// The SDK retries a failed session until its context ends, so a
		// rejected authtoken shows up here as the deadline with the
		// service's answers inside err.
		if fwd != nil {
			_ = fwd.Close()
		}
		cause := ngrokCause(err)
		if ended {
			if cause == nil {
				cause = context.Cause(ctx)
			} else {
				cause = fmt.Errorf("%w; last error: %w", context.Cause(ctx), cause)
			}
		}
		te := connErr(ProviderNgrok, "connect", cause,
			"check NGROK_AUTHTOKEN, that NGROK_DOMAIN (if set) belongs to this ngrok account, and that outbound TLS to the ngrok service is allowed")
		var ne ngrok.Error
		if errors.As(err, &ne) && ngrokPermanent(ne.Code()) {
			te.permanent = true
		}
		return "", te
	}
	p.mu.Lock()
	p.fwd = fwd
	p.up = true
	p.mu.Unlock()
	return strings.TrimRight(fwd.URL().String(), "/"), nil
}

func (p *ngrokProvider) healthy(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fwd == nil {
		return errors.New("ngrok endpoint not open")
	}
	select {
	case <-p.fwd.Done():
		return errors.New("ngrok endpoint closed")
	default:
	}
	if !p.up {
		if p.downErr != nil {
			return fmt.Errorf("ngrok session disconnected: %w", p.downErr)
		}
		return errors.New("ngrok session disconnected")
	}
	return nil
}

func (p *ngrokProvider) lost() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fwd == nil {
		return nil
	}
	return p.fwd.Done()
}

func (p *ngrokProvider) close() error {
	p.mu.Lock()
	agent, fwd, cancel := p.agent, p.fwd, p.cancel
	p.agent, p.fwd, p.cancel = nil, nil, nil
	p.mu.Unlock()
	var errs []error
	if fwd != nil {
		errs = append(errs, fwd.Close())
	}
	if agent != nil {
		errs = append(errs, agent.Disconnect())
	}
	if cancel != nil {
		cancel()
	}
	return errors.Join(errs...)
}
