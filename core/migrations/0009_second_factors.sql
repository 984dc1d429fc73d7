-- Second factors for accounts that keep a password (see second_factor.rs).
--
-- An authenticator app (TOTP, RFC 6238). `secret` is sealed with
-- XChaCha20-Poly1305 under a key derived from the deployment secret and
-- bound to the user's id, so a copy of the database alone yields no codes.
-- `confirmed_at` stays NULL until a code from the app proves the enrolment;
-- `last_step` is the newest 30-second step accepted, so a code is good once.
CREATE TABLE totp_factors (
    user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- When a session last proved the second factor (its sign-in, or a step-up
-- since): changes that could hand the account over ask for a fresh one.
ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT;

-- Single-use recovery codes, stored only as keyed digests (HMAC-SHA-256).
-- A used code keeps its row (`used_at`) so "how many are left" is a count.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest  TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, digest)
);
