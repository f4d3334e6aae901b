-- Webhook deliveries as received and verified, and the replay keys that
-- guard them. id is the commit order.
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,          -- <identifier>:<nonce>[#n]
    identifier  TEXT NOT NULL,
    status      TEXT NOT NULL,
    nonce       TEXT NOT NULL DEFAULT '',
    validated   INTEGER NOT NULL,              -- 1 when the HMAC was verified
    payload     BLOB NOT NULL,                 -- the raw body, byte for byte
    body_hash   BLOB NOT NULL UNIQUE,          -- SHA-256 of payload (32 bytes)
    received_at INTEGER NOT NULL               -- unix milliseconds
);
CREATE INDEX webhook_events_identifier ON webhook_events (identifier, received_at);
CREATE INDEX webhook_events_received_at ON webhook_events (received_at);

-- A replay key (nonce + signature) is refused again until expires_at.
CREATE TABLE webhook_replay_keys (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL                -- unix milliseconds
) WITHOUT ROWID;
CREATE INDEX webhook_replay_keys_expires_at ON webhook_replay_keys (expires_at);
