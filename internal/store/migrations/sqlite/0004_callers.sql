-- Who made each money-moving call: "stdio", "static-token", "anonymous"
-- or "oauth sub=<sub> client=<client_id>" (internal/access). Rows from
-- before this migration name no caller.
ALTER TABLE idempotency_keys ADD COLUMN caller TEXT NOT NULL DEFAULT '';
ALTER TABLE shop_audit ADD COLUMN caller TEXT NOT NULL DEFAULT '';
