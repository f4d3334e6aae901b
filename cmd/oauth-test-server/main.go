// Command oauth-test-server runs the in-process test authorization server
// of internal/oauth/oauthtest on loopback, for black-box tests of
// `cryptopay-mcp http` with OAuth (.ci/conformance.sh): RFC 8414 metadata,
// a JWKS, and a client_credentials token endpoint for one client.
//
//	oauth-test-server --client-id ID --client-secret SECRET
//
// It prints "issuer=http://127.0.0.1:PORT" on stdout and serves until
// SIGINT or SIGTERM. Never use it for anything but tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cryptopay-mcp/cryptopay-mcp/internal/oauth/oauthtest"
)

func main() {
	id := flag.String("client-id", "e2e-client", "client_credentials client id")
	secret := flag.String("client-secret", "", "its secret (required)")
	flag.Parse()
	if *secret == "" {
		fmt.Fprintln(os.Stderr, "oauth-test-server: --client-secret is required")
		os.Exit(2)
	}
	as, err := oauthtest.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "oauth-test-server:", err)
		os.Exit(1)
	}
	defer as.HTTP.Close()
	as.AddClient(*id, *secret)
	fmt.Printf("issuer=%s\n", as.Issuer)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
}
