package mcpserver

import (
	"context"
	"errors"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/store"
)

// fakeWebhooks is a Webhooks with fixed answers.
type fakeWebhooks struct {
	events   store.Events
	url      string
	provider string
	urlErr   error
	validErr error
	status   TunnelStatus
}

func (f *fakeWebhooks) Events() store.Events { return f.events }
func (f *fakeWebhooks) URL() (string, string, error) {
	if f.urlErr != nil {
		return "", "", f.urlErr
	}
	return f.url, f.provider, nil
}
func (f *fakeWebhooks) Validate(context.Context, string) error { return f.validErr }
func (f *fakeWebhooks) Instructions(u, p string) string        { return p + " " + u }
func (f *fakeWebhooks) TunnelStatus() TunnelStatus             { return f.status }

var errNoURL = errors.New("no public URL")
