-- Shop (Bitrefill) purchases: spending against the daily cap, single-use
-- confirmation tokens and the append-only audit log.

-- One row per balance payment attempt that counts against the daily cap.
-- status: reserved (payment in flight, or the process died during it),
-- paid, unknown (the provider may have taken the money), released (the
-- payment definitely did not happen; no longer counts). Reservations of one
-- day are serialised by a transaction-scoped advisory lock on the day (see
-- postgres_shop.go), so replicas cannot overshoot the cap together.
CREATE TABLE shop_spend (
    invoice_id   text PRIMARY KEY,
    day          text NOT NULL,                -- UTC calendar day, YYYY-MM-DD
    amount_cents bigint NOT NULL,              -- EUR cents, from the provider's prices
    status       text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX shop_spend_day ON shop_spend (day);

-- Confirmation tokens; only the SHA-256 of the token is stored. A token is
-- consumed by UPDATE ... WHERE used_at IS NULL, so only one caller wins.
CREATE TABLE shop_confirmations (
    token_hash   text PRIMARY KEY,
    invoice_id   text NOT NULL,
    amount_cents bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz                   -- NULL until consumed
);
CREATE INDEX shop_confirmations_expires_at ON shop_confirmations (expires_at);

-- Every money-moving call (create_invoice, pay_invoice, unseal_order),
-- refusals included. Append-only: updates, deletes and truncation are
-- refused by a trigger. seq is an identity: increasing, with gaps only where
-- an insert rolled back.
CREATE TABLE shop_audit (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL,
    tool         text NOT NULL,
    invoice_id   text NOT NULL DEFAULT '',
    order_id     text NOT NULL DEFAULT '',
    amount_cents bigint NOT NULL DEFAULT 0,
    outcome      text NOT NULL,
    code         text NOT NULL DEFAULT '',
    detail       text NOT NULL DEFAULT ''
);

CREATE FUNCTION shop_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'shop_audit is append-only' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER shop_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON shop_audit
    FOR EACH STATEMENT EXECUTE FUNCTION shop_audit_append_only();
