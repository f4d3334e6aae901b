package oauth

import (
	"context"
	"testing"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/oauth/oauthtest"
)

// BenchmarkVerify is the cost every OAuth request pays before reaching
// the MCP handler: signature, claims, audience, scopes.
func BenchmarkVerify(b *testing.B) {
	as, err := oauthtest.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer as.HTTP.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := New(ctx, Config{Issuer: as.Issuer, JWKSURL: as.JWKSURL(), Audiences: []string{resource}})
	if err != nil {
		b.Fatal(err)
	}
	for _, kid := range []string{"rsa-1", "ec-1"} {
		tok, err := as.Mint(oauthtest.Token{KID: kid, Audience: []string{resource}, Scope: "payments:read payments:write"})
		if err != nil {
			b.Fatal(err)
		}
		name := map[string]string{"rsa-1": "RS256-2048", "ec-1": "ES256"}[kid]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
