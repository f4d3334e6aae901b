-- Webhook deliveries as received and verified, and the replay keys that
-- guard them.
--
-- event_id is "<identifier>:<nonce>", with "#2", "#3", ... appended when
-- that id is already taken by another body. body_hash (hex SHA-256 of the
-- payload) is unique: the same body is one event. seq orders events that
-- share a received_at; xid is the inserting transaction, which lets a
-- listener that lost its connection find exactly the events committed since
-- its last snapshot (pg_visible_in_snapshot).
CREATE TABLE webhook_events (
    event_id    text PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    identifier  text NOT NULL,
    status      text NOT NULL,
    nonce       text NOT NULL DEFAULT '',
    validated   boolean NOT NULL,
    payload     bytea NOT NULL,
    body_hash   text NOT NULL UNIQUE,
    received_at timestamptz NOT NULL,          -- millisecond precision
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX webhook_events_newest ON webhook_events (received_at DESC, seq DESC);
CREATE INDEX webhook_events_identifier ON webhook_events (identifier, received_at DESC, seq DESC);
CREATE INDEX webhook_events_xid ON webhook_events (xid);

-- A replay key (e.g. the nonce and signature of a delivery) is refused
-- while until is in the future, by any replica.
CREATE TABLE webhook_replay_keys (
    key   text PRIMARY KEY,
    until timestamptz NOT NULL
);
CREATE INDEX webhook_replay_keys_until ON webhook_replay_keys (until);

-- cryptopay_save_event is SaveEvent in one statement, so it costs one round
-- trip and can be queued many times in one pipelined transaction.
-- r_outcome is 'replay' (nothing written), 'duplicate' (only the replay key
-- written; the r_ columns are the earlier event) or 'stored' (r_event_id is
-- the id used; r_seq and r_xid locate the new row for the listener). A new
-- event is announced with pg_notify inside the transaction, so listeners
-- hear of it only once it is committed, and in commit order.
CREATE FUNCTION cryptopay_save_event(
    p_event_id text, p_identifier text, p_status text, p_nonce text, p_validated boolean,
    p_payload bytea, p_body_hash text, p_received_at timestamptz,
    p_replay_key text, p_replay_until timestamptz,
    OUT r_outcome text, OUT r_event_id text, OUT r_identifier text, OUT r_status text,
    OUT r_nonce text, OUT r_validated boolean, OUT r_payload bytea, OUT r_received_at timestamptz,
    OUT r_seq bigint, OUT r_xid text)
LANGUAGE plpgsql AS $$
DECLARE
    v_try integer := 1;
BEGIN
    IF p_replay_key <> '' THEN
        -- A present key is replaced only when it has expired; the conflict
        -- waits for a concurrent claimer of the same key to finish.
        INSERT INTO webhook_replay_keys AS k (key, until) VALUES (p_replay_key, p_replay_until)
        ON CONFLICT (key) DO UPDATE SET until = EXCLUDED.until WHERE k.until <= p_received_at;
        IF NOT FOUND THEN
            r_outcome := 'replay';
            RETURN;
        END IF;
    END IF;
    LOOP
        r_event_id := CASE WHEN v_try = 1 THEN p_event_id ELSE p_event_id || '#' || v_try END;
        -- Conflicts on either key: the body hash (stored before, or
        -- concurrently: the conflict waits for that commit) or the event id
        -- (taken by another body: try the next suffix).
        INSERT INTO webhook_events (event_id, identifier, status, nonce, validated, payload, body_hash, received_at)
        VALUES (r_event_id, p_identifier, p_status, p_nonce, p_validated, p_payload, p_body_hash, p_received_at)
        ON CONFLICT DO NOTHING
        RETURNING seq, xid::text INTO r_seq, r_xid;
        IF FOUND THEN
            PERFORM pg_notify('cryptopay_events', r_event_id);
            r_outcome := 'stored';
            RETURN;
        END IF;
        SELECT e.event_id, e.identifier, e.status, e.nonce, e.validated, e.payload, e.received_at
          INTO r_event_id, r_identifier, r_status, r_nonce, r_validated, r_payload, r_received_at
          FROM webhook_events e WHERE e.body_hash = p_body_hash;
        IF FOUND THEN
            r_outcome := 'duplicate';
            RETURN;
        END IF;
        v_try := v_try + 1;
        IF v_try > 10000 THEN
            RAISE EXCEPTION 'cryptopay_save_event: no free event id for %', p_event_id;
        END IF;
    END LOOP;
END
$$;
