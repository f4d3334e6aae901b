// Package bitrefill contains HTTP clients for the two Bitrefill APIs used by
// the "shop" half of cryptopay-mcp:
//
//   - the public website API (default base [DefaultPublicBaseURL]): catalogue
//     search (GET /omni) and product detail (GET /product/{id}); no
//     authentication;
//   - the authenticated B2B API v2 (default base [DefaultV2BaseURL]), HTTP
//     Basic with an API id and secret: account balance, invoices, orders,
//     products, phone-number lookup and ping.
//
// One [Client] talks to both. Base URLs and the *http.Client are injectable so
// tests and the offline sandbox can point the client at
// internal/fakebitrefill.
//
// Transport policy:
//
//   - every attempt has its own timeout ([Options.AttemptTimeout]); the
//     caller's context is the overall deadline;
//   - GET requests are retried a bounded number of times with exponential
//     backoff and jitter on network errors, 5xx and 429; a 429 waits for the
//     delay announced by Retry-After / RateLimit-Reset / X-RateLimit-Reset;
//     no wait ever extends past the context deadline — if it would, the last
//     error is returned at once;
//   - POST requests (CreateInvoice, PayInvoice) are sent at most once. Only a
//     dial failure, where provably no byte left the machine, is retried. A
//     failure after the request may have reached Bitrefill (timeout, reset,
//     5xx) is reported as [ErrOutcomeUnknown]: the caller must look the
//     invoice up before trying again.
//
// Errors: non-2xx answers become *[APIError]; errors.Is maps them onto the
// sentinels [ErrNotFound], [ErrUnauthorized], [ErrForbidden],
// [ErrInsufficientFunds], [ErrRateLimited], [ErrBadRequest] and
// [ErrServerError]. Client-side validation failures are *[ValidationError]
// and match [ErrInvalidInput].
//
// Money is never a float64: prices, values, balances and commissions are
// [Decimal], the exact decimal text the API sent (number or string).
//
// Typed responses also keep the raw JSON document (the Raw fields), because
// a drop-in replacement for the TypeScript server must pass unknown upstream
// fields through unchanged.
//
// Nothing secret is ever logged: the API secret, the Authorization header and
// response bodies (which can hold gift-card codes and PINs) never reach the
// optional *slog.Logger.
package bitrefill
