-- Tasks of the io.modelcontextprotocol/tasks extension (internal/tasks):
-- a tool call answered with a task handle and finished in the background.
-- Times are Unix milliseconds. owner is the caller that created the task
-- (nobody else may see it); lease_holder/lease_until say which process runs
-- it, so another one (after a restart, or another replica) takes it over
-- once the lease has run out.
CREATE TABLE tasks (
	id               TEXT PRIMARY KEY,
	owner            TEXT NOT NULL,
	tool             TEXT NOT NULL,
	status           TEXT NOT NULL,
	status_message   TEXT NOT NULL DEFAULT '',
	params           BYTEA,
	result           BYTEA,
	error            BYTEA,
	input_requests   BYTEA,
	input_responses  BYTEA,
	poll_interval_ms BIGINT NOT NULL,
	created_at       BIGINT NOT NULL,
	updated_at       BIGINT NOT NULL,
	expires_at       BIGINT NOT NULL,
	lease_holder     TEXT NOT NULL DEFAULT '',
	lease_until      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tasks_owner_status ON tasks (owner, status);
CREATE INDEX tasks_status_lease ON tasks (status, lease_until);
CREATE INDEX tasks_expires ON tasks (expires_at);
