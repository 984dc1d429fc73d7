-- "This wasn't me" links, mailed to the old address after an email change.
-- Only a SHA-256 of the 256-bit token is stored. A live link also reserves
-- its old address: no other account may take it while the owner can still
-- undo the change. `seq` orders an account's links strictly (times are
-- whole seconds): undoing one retires the account's later links only.
CREATE TABLE email_reverts (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    old_email  TEXT NOT NULL,
    new_email  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE UNIQUE INDEX email_reverts_user_seq ON email_reverts (user_id, seq);
CREATE INDEX email_reverts_old_email ON email_reverts (old_email);
