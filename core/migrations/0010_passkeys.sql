-- Passkeys (WebAuthn credentials; see passkeys.rs). `credential_id` is the
-- authenticator's id for it (base64url), unique across accounts, and
-- `credential` is the verified public key with its signature counter, as
-- webauthn-rs serialises it. A passkey signs in by itself: nothing here is
-- a secret, but a row added by a stranger is a way in, so adding one asks
-- for the password (or a fresh sign-in) and mails the owner.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE UNIQUE INDEX passkeys_credential_id_key ON passkeys (credential_id);
CREATE INDEX passkeys_user_id ON passkeys (user_id);
