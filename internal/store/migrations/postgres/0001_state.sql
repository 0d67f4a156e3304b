-- The state store's first schema: occurrences for correlation windows,
-- baselines for first-seen and credential origin, findings, checkpoints.
-- Times are event times in Unix microseconds. Text is COLLATE "C" so it
-- compares bytewise, as Go and SQLite compare strings.

CREATE TABLE occurrences (
    stream   TEXT COLLATE "C" NOT NULL,
    grp      TEXT COLLATE "C" NOT NULL,
    t        BIGINT           NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL,
    tag      TEXT COLLATE "C" NOT NULL,
    value    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (stream, grp, t, event_id, tag, value)
);
CREATE INDEX occurrences_by_time ON occurrences (t);

CREATE TABLE baselines (
    kind           TEXT COLLATE "C" NOT NULL,
    scope          TEXT COLLATE "C" NOT NULL,
    value          TEXT COLLATE "C" NOT NULL,
    first_t        BIGINT           NOT NULL,
    first_event_id TEXT COLLATE "C" NOT NULL,
    last_t         BIGINT           NOT NULL,
    last_event_id  TEXT COLLATE "C" NOT NULL,
    count          BIGINT           NOT NULL,
    PRIMARY KEY (kind, scope, value)
);
CREATE INDEX baselines_by_last_seen ON baselines (last_t);

CREATE TABLE findings (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    rule_id    TEXT COLLATE "C" NOT NULL,
    account    TEXT COLLATE "C" NOT NULL,
    first_seen BIGINT,                    -- NULL when unknown
    last_seen  BIGINT,
    count      BIGINT           NOT NULL,
    record     BYTEA            NOT NULL  -- the rest of the record, JSON (store/record.go)
);
CREATE INDEX findings_by_rule ON findings (rule_id, account);
CREATE INDEX findings_by_last_seen ON findings (last_seen);

CREATE TABLE checkpoints (
    key   TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value TEXT             NOT NULL,
    t     BIGINT                      -- NULL: never evicted
);
CREATE INDEX checkpoints_by_time ON checkpoints (t);
