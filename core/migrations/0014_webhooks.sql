-- Webhooks (see webhooks.rs): endpoints an administrator registers, and one
-- delivery per event and endpoint, queued in the transaction that records
-- the event, so it is sent if and only if the change commits.

-- `events`: the event types it receives, space-separated with a space at
-- each end (matched with LIKE); '' receives all. `secret` is sealed with
-- XChaCha20-Poly1305 (it must be read back to sign); after a rotation the
-- previous one still signs until `previous_secret_until`. `failing_since`:
-- since when nothing reached it (the later of the last delivery and the
-- oldest delivery failing now); a day of that turns it off.
CREATE TABLE webhook_endpoints (
    id                    TEXT PRIMARY KEY,
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL,
    events                TEXT NOT NULL,
    enabled               BIGINT NOT NULL DEFAULT 1,
    disabled_reason       TEXT,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    failing_since         BIGINT,
    last_delivered_at     BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

-- `event_id` is the activity log's row (the payload is made from it and
-- the account as it was: `email`, `username`); `user_key` orders each
-- account's deliveries (the account's id; the event's own for none). A
-- delivery is pending until `delivered_at` or `failed_at`. Endpoints are
-- not a foreign key: a delivery queued while its endpoint is deleted must
-- not fail the change that logged it (the worker drops orphans).
CREATE TABLE webhook_deliveries (
    endpoint_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    user_key        TEXT NOT NULL,
    email           TEXT,
    username        TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_status     BIGINT,
    last_error      TEXT,
    latency_ms      BIGINT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, user_key, event_id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (endpoint_id, created_at);
