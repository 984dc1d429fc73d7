-- Latchkey as an OpenID Connect provider (see oidc.rs).

-- Apps that sign their users in through Latchkey. `id` is the client_id.
-- Lists are space-separated: redirect URIs are matched exactly, never as
-- patterns. A confidential client has a secret, stored as SHA-256 (it is
-- 256 random bits: a fast hash is enough); a public one has none and must
-- use PKCE.
CREATE TABLE oauth_clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    logo_url                  TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    secret_hash               TEXT,
    scopes                    TEXT NOT NULL,
    grants                    TEXT NOT NULL,
    first_party               BIGINT NOT NULL DEFAULT 0,
    id_token_alg              TEXT NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);

-- What a user allowed an app to read, remembered so it is asked once.
CREATE TABLE oauth_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes, as SHA-256, good once for 60 seconds. `grant_id`
-- is set when the code is redeemed, so a second use can revoke what the
-- first one got (RFC 6749 §4.1.2).
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    grant_id       TEXT
);
CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);

-- What an app holds for a user: one row per redeemed code (or client
-- credentials grant), ended as a whole on revocation or on reuse of its code
-- or of a rotated refresh token.
CREATE TABLE oauth_grants (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id  TEXT,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX oauth_grants_user_id ON oauth_grants (user_id);
CREATE INDEX oauth_grants_expires_at ON oauth_grants (expires_at);

-- Refresh tokens of a grant (offline_access), as SHA-256; rotated on use
-- like first-party ones.
CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT
);
CREATE INDEX oauth_refresh_tokens_grant_id ON oauth_refresh_tokens (grant_id);
