-- Payments this server created, so QR codes and status survive a restart.
CREATE TABLE payments (
    identifier            TEXT PRIMARY KEY,
    kind                  TEXT NOT NULL,          -- onchain | link
    fiat_amount           TEXT NOT NULL DEFAULT '',
    fiat                  TEXT NOT NULL DEFAULT '',
    input_currency        TEXT NOT NULL DEFAULT '',
    address               TEXT NOT NULL DEFAULT '',
    payment_uri           TEXT NOT NULL DEFAULT '',
    web_url               TEXT NOT NULL DEFAULT '',
    tag_memo              TEXT NOT NULL DEFAULT '',
    expected_input_amount TEXT NOT NULL DEFAULT '',
    notes                 TEXT NOT NULL DEFAULT '',
    created_at            TEXT NOT NULL DEFAULT '',
    expires_at            TEXT NOT NULL DEFAULT '',
    stored_at             INTEGER NOT NULL        -- unix milliseconds
);

-- Idempotency keys of the create tools. state: pending | done | unknown.
CREATE TABLE idempotency_keys (
    key        TEXT PRIMARY KEY,
    tool       TEXT NOT NULL,
    args_hash  TEXT NOT NULL,
    state      TEXT NOT NULL,
    payment_id TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,                  -- unix milliseconds
    updated_at INTEGER NOT NULL
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
