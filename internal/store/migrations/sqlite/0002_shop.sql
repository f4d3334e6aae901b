-- Shop (Bitrefill) purchases: spending against the daily cap, single-use
-- confirmation tokens and the append-only audit log.

-- One row per balance payment attempt that counts against the daily cap.
-- status: reserved (payment in flight, or the process died during it),
-- paid, unknown (the provider may have taken the money), released (the
-- payment definitely did not happen; no longer counts).
CREATE TABLE shop_spend (
    invoice_id   TEXT PRIMARY KEY,
    day          TEXT NOT NULL,                -- UTC calendar day, YYYY-MM-DD
    amount_cents INTEGER NOT NULL,             -- EUR cents, from the provider's prices
    status       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,             -- unix milliseconds
    updated_at   INTEGER NOT NULL
);
CREATE INDEX shop_spend_day ON shop_spend (day);

-- Confirmation tokens; only the SHA-256 of the token is stored.
CREATE TABLE shop_confirmations (
    token_hash   TEXT PRIMARY KEY,
    invoice_id   TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER                       -- NULL until consumed
);

-- Every money-moving call (create_invoice, pay_invoice, unseal_order),
-- refusals included. Append-only: updates and deletes are refused.
CREATE TABLE shop_audit (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,             -- unix milliseconds
    tool         TEXT NOT NULL,
    invoice_id   TEXT NOT NULL DEFAULT '',
    order_id     TEXT NOT NULL DEFAULT '',
    amount_cents INTEGER NOT NULL DEFAULT 0,
    outcome      TEXT NOT NULL,
    code         TEXT NOT NULL DEFAULT '',
    detail       TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER shop_audit_no_update BEFORE UPDATE ON shop_audit
BEGIN
    SELECT RAISE(ABORT, 'shop_audit is append-only');
END;
CREATE TRIGGER shop_audit_no_delete BEFORE DELETE ON shop_audit
BEGIN
    SELECT RAISE(ABORT, 'shop_audit is append-only');
END;
