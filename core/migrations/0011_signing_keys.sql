-- Keys that sign access tokens (and, for other apps, ID tokens); see
-- signing_keys.rs. Each key signs from `signs_from` to `signs_until` and is
-- published in the JWKS from the moment it is made, which for every key
-- after the first is days before it signs, until the last token it signed
-- has expired. `private_key` is the PKCS#8 key sealed with a key derived
-- from the deployment secret; `public_jwk` is what the JWKS lists.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL,
    public_jwk   TEXT NOT NULL,
    private_key  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    signs_from   BIGINT NOT NULL,
    signs_until  BIGINT NOT NULL
);
-- Two instances scheduling the same next key make one row.
CREATE UNIQUE INDEX signing_keys_schedule ON signing_keys (alg, signs_from);
