-- The alert outbox: one row per (sink, finding id, revision) to notify,
-- written in the same transaction as the findings it announces, and worked
-- off by dispatchers (internal/alert). Times here are wall-clock Unix
-- microseconds: retries and leases are about now, not about event time.
-- state is 'pending' until the row is 'delivered' or 'failed' (given up,
-- last_error says why). A pending row is due when next_attempt has come and
-- no live lease (lease_until in the future) holds it; workers claim due rows
-- with FOR UPDATE SKIP LOCKED, so two never claim the same one.

CREATE TABLE outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sink         TEXT COLLATE "C" NOT NULL,
    finding_id   TEXT COLLATE "C" NOT NULL,
    revision     BIGINT           NOT NULL,
    payload      BYTEA            NOT NULL,
    state        TEXT COLLATE "C" NOT NULL DEFAULT 'pending',
    enqueued_at  BIGINT           NOT NULL,
    next_attempt BIGINT           NOT NULL,
    attempts     INTEGER          NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  BIGINT,
    last_error   TEXT             NOT NULL DEFAULT '',
    done_at      BIGINT,
    UNIQUE (sink, finding_id, revision)
);
CREATE INDEX outbox_due ON outbox (sink, next_attempt) WHERE state = 'pending';
CREATE INDEX outbox_done ON outbox (done_at);
