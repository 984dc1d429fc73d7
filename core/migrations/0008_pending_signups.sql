-- Sign-ups waiting for their code (SIGNUP_HIDE_EXISTING). The account is
-- made only when the mailed code and the sign-up's token come back, so
-- nothing a stranger can observe before then (a log-in with the password
-- they chose, a username now taken) tells a free address from a taken one.
-- Only a SHA-256 of the 256-bit token is stored; rows die with their code.
CREATE TABLE pending_signups (
    token_hash    TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    username      TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX pending_signups_expires_at ON pending_signups (expires_at);
