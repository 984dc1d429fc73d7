-- Password-reset links. Only a SHA-256 of the 256-bit token is stored. A
-- link works once (used_at) and until expires_at; changing the password by
-- any route deletes the user's outstanding links.
CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_user_id ON password_resets (user_id);
