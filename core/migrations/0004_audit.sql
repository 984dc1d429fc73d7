-- The security activity log: append-only (the app has no UPDATE or DELETE
-- for it). Rows outlive the accounts they name, so ids carry no foreign key
-- and `detail` keeps what an admin needs to read an event later (an old
-- address, a new role). Never a password, code or token.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,   -- UUIDv7: sorts by time
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    user_id    TEXT,               -- the account it happened to
    actor_id   TEXT,               -- an admin acting on it (NULL: the user or nobody)
    reason     TEXT,
    detail     TEXT,
    ip         TEXT,
    user_agent TEXT
);
CREATE INDEX audit_events_user ON audit_events (user_id, id);
CREATE INDEX audit_events_kind ON audit_events (kind, id);

-- The admin console filters and pages through users by these.
CREATE INDEX users_created_at ON users (created_at);
CREATE INDEX users_role ON users (role, disabled);
