-- Webhook deliveries as received and verified, and the replay keys that
-- guard them. id is the commit order.
--
-- Every random-keyed index costs a page write per event in each group
-- commit, so there are two: body_hash (dedup) and event_id. An event id is
-- always "<identifier>:<nonce>[#n]", so the event_id index also answers
-- "events of one identifier" with a prefix range (see eventWhere); a
-- separate identifier index measured 20-30% fewer events/s.
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,                 -- <identifier>:<nonce>[#n]
    identifier  TEXT NOT NULL,
    status      TEXT NOT NULL,
    nonce       TEXT NOT NULL DEFAULT '',
    validated   INTEGER NOT NULL,              -- 1 when the HMAC was verified
    payload     BLOB NOT NULL,                 -- the raw body, byte for byte
    body_hash   BLOB NOT NULL,                 -- SHA-256 of payload (32 bytes)
    received_at INTEGER NOT NULL               -- unix milliseconds
);
CREATE UNIQUE INDEX webhook_events_event_id ON webhook_events (event_id);
CREATE UNIQUE INDEX webhook_events_body_hash ON webhook_events (body_hash);
CREATE INDEX webhook_events_received_at ON webhook_events (received_at);

-- A replay key (nonce + ":" + signature) is refused again until expires_at.
CREATE TABLE webhook_replay_keys (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL                -- unix milliseconds
) WITHOUT ROWID;
CREATE INDEX webhook_replay_keys_expires_at ON webhook_replay_keys (expires_at);
