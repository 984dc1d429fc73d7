-- Accounts at other identity providers ("Sign in with Kakao"; see
-- upstream.rs). A person there is the provider's issuer and its `subject`
-- (the ID token's `iss` and `sub`), never their email, which can change
-- hands; keyed by issuer, so an operator who points a provider's settings at
-- another issuer does not hand its subjects' accounts to whoever has the same
-- `sub` there. `provider` is the settings' id (`kakao`): one identity per
-- provider per account. `email` is what the provider said when it was
-- linked, for the owner to recognise it; it grants nothing.
CREATE TABLE identities (
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    provider     TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (issuer, subject)
);
CREATE UNIQUE INDEX identities_user_provider ON identities (user_id, provider);
