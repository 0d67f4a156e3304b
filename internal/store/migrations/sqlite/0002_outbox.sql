-- The alert outbox: one row per (sink, finding id, revision) to notify,
-- written in the same transaction as the findings it announces, and worked
-- off by dispatchers (internal/alert). Times here are wall-clock Unix
-- microseconds: retries and leases are about now, not about event time.
-- state is 'pending' until the row is 'delivered' or 'failed' (given up,
-- last_error says why). A pending row is due when next_attempt has come and
-- no live lease (lease_until in the future) holds it.

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sink         TEXT    NOT NULL,
    finding_id   TEXT    NOT NULL,
    revision     INTEGER NOT NULL,
    payload      BLOB    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',
    enqueued_at  INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  INTEGER,
    last_error   TEXT    NOT NULL DEFAULT '',
    done_at      INTEGER,
    UNIQUE (sink, finding_id, revision)
);
CREATE INDEX outbox_due ON outbox (sink, state, next_attempt);
CREATE INDEX outbox_done ON outbox (done_at);
