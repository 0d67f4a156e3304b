-- The state store's first schema: occurrences for correlation windows,
-- baselines for first-seen and credential origin, findings, checkpoints.
-- Times are event times in Unix microseconds. Text compares bytewise
-- (SQLite's BINARY collation), as Go compares strings.

CREATE TABLE occurrences (
    stream   TEXT    NOT NULL,
    grp      TEXT    NOT NULL,
    t        INTEGER NOT NULL,
    event_id TEXT    NOT NULL,
    tag      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (stream, grp, t, event_id, tag, value)
) WITHOUT ROWID;
CREATE INDEX occurrences_by_time ON occurrences (t);

CREATE TABLE baselines (
    kind           TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    first_t        INTEGER NOT NULL,
    first_event_id TEXT    NOT NULL,
    last_t         INTEGER NOT NULL,
    last_event_id  TEXT    NOT NULL,
    count          INTEGER NOT NULL,
    PRIMARY KEY (kind, scope, value)
) WITHOUT ROWID;
CREATE INDEX baselines_by_last_seen ON baselines (last_t);

CREATE TABLE findings (
    id         TEXT    NOT NULL PRIMARY KEY,
    rule_id    TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    first_seen INTEGER,          -- NULL when unknown
    last_seen  INTEGER,
    count      INTEGER NOT NULL,
    record     BLOB    NOT NULL  -- the rest of the record, JSON (store/record.go)
);
CREATE INDEX findings_by_rule ON findings (rule_id, account);
CREATE INDEX findings_by_last_seen ON findings (last_seen);

CREATE TABLE checkpoints (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    t     INTEGER                -- NULL: never evicted
);
CREATE INDEX checkpoints_by_time ON checkpoints (t);
