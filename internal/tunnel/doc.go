// Package tunnel gives the webhook receiver a public URL: an ngrok tunnel
// (in-process, golang.ngrok.com/ngrok/v2), a zrok share (the zrok CLI), a
// URL the operator already has (manual), or an in-process fake for offline
// use and tests.
//
// A Manager picks the provider (TUNNEL_PROVIDER, or else what Detect
// suggests for the execution context), connects in the background so that
// nothing ever waits on a tunnel, health-checks the connection, reconnects
// with exponential backoff and tells subscribers the fresh URL after every
// (re)connect. Status is the get_tunnel_status payload; Instructions is the
// get_webhook_url instructions text.
//
// Differences from the TypeScript server (reference/bitnovo.md §10, §15):
//   - B3: Detect never panics or fails; file checks go through an injected
//     function.
//   - B5: with TUNNEL_ENABLED=false a WEBHOOK_PUBLIC_URL still gives a
//     connected "manual" status and URL.
//   - B6: an empty TUNNEL_PROVIDER means "use the detected suggestion".
//   - B15: every (re)connect refreshes the URL and fires the OnURLChange
//     callbacks; the ngrok health check reads the agent session's events;
//     a zrok connect timeout kills the CLI's whole process group; ZROK_TOKEN
//     is used to run "zrok enable" once when the environment is not enabled.
//   - B16: the ngrok instructions tell a custom domain, an ngrok static
//     domain and a random URL apart.
package tunnel
