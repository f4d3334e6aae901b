// Package webhook receives Bitnovo Pay payment notifications: it verifies
// the signature and the nonce's freshness over the raw request bytes,
// parses the payload tolerantly, stores the delivery durably together with
// its replay key, and only then answers 200.
//
// # Signature scheme (Bitnovo's)
//
// Each POST carries X-NONCE, the sender's unix time in seconds as ASCII
// digits, and X-SIGNATURE, the lowercase hex HMAC-SHA256 keyed with the
// hex-DECODED device secret over the bytes nonce + raw body. Verify works
// on the raw bytes exactly as received and never re-serialises the JSON
// (Bitnovo's own test vector is signed over Python-formatted JSON, whose
// compact form has a different signature). The comparison is constant-time;
// an optional "hex:" prefix and upper-case hex digits are accepted. Sign
// produces the same signature and is what fakes and tests use.
//
// # Replays
//
// The replay key is nonce + ":" + signature, consumed in the same store
// transaction that stores the event — never before the delivery has been
// verified and parsed, so a refused request never burns a nonce. It is held
// until nonce time + Window; older nonces are refused as stale anyway.
// The key is not the nonce alone because Bitnovo's nonce is a timestamp in
// seconds: two payments updated in the same second legitimately share a
// nonce, and refusing the second would lose an event. A byte-identical
// re-send (same nonce, same body, hence same signature) is refused with 401
// REPLAY_ATTACK. The same body re-sent under a new nonce is acknowledged as
// a duplicate and stored once (events are deduplicated on the SHA-256 of the
// body).
//
// # Divergences from the TypeScript server (reference §15)
//
//   - B4: without a device secret the receiver refuses to start unless
//     unsigned mode is explicitly allowed; unsigned events are stored with
//     Validated=false.
//   - B7: the nonce must be fresh (|now − nonce| ≤ Window, default 300 s),
//     replay keys are durable and bounded by their expiry, and a nonce is
//     consumed only together with the stored event.
//   - B12: null in optional fields, amounts as numbers or strings (kept as
//     exact decimal text), "currency" or "input_currency", and unknown
//     statuses are all accepted.
//   - B19: malformed bodies give 400, oversized ones 413, a wrong content
//     type 415, refused signatures 401, a store failure 503 (nothing is
//     acknowledged); /stats is served only to local callers or with a bearer
//     token; server timeouts are set (see Server).
//   - B23: duplicates are detected on the body hash, not on identifier +
//     nonce, so a status re-sent with a new nonce is not stored twice.
package webhook
