-- Payments this server created, so QR codes and status survive a restart.
CREATE TABLE payments (
    identifier            text PRIMARY KEY,
    kind                  text NOT NULL,          -- onchain | link
    fiat_amount           text NOT NULL DEFAULT '',
    fiat                  text NOT NULL DEFAULT '',
    input_currency        text NOT NULL DEFAULT '',
    address               text NOT NULL DEFAULT '',
    payment_uri           text NOT NULL DEFAULT '',
    web_url               text NOT NULL DEFAULT '',
    tag_memo              text NOT NULL DEFAULT '',
    expected_input_amount text NOT NULL DEFAULT '',
    notes                 text NOT NULL DEFAULT '',
    created_at            text NOT NULL DEFAULT '', -- RFC 3339 as the provider sent it
    expires_at            text NOT NULL DEFAULT '',
    stored_at             timestamptz NOT NULL      -- millisecond precision, as in SQLite
);

-- Idempotency keys of the create tools. state: pending | done | unknown.
-- Claims are INSERT ... ON CONFLICT DO NOTHING: the primary key makes
-- exactly one claimer win, whichever replica it runs on.
CREATE TABLE idempotency_keys (
    key        text PRIMARY KEY,
    tool       text NOT NULL,
    args_hash  text NOT NULL,
    state      text NOT NULL,
    payment_id text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
