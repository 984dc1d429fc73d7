-- How each session was signed in (`password`, `code`, `passkey`,
-- `password+totp`, …): apps are told as the ID token's `amr` and `acr`.
-- Sessions from before this are '' and claim nothing.
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT '';
-- A code carries its session's method to the ID token it becomes.
ALTER TABLE oauth_codes ADD COLUMN method TEXT NOT NULL DEFAULT '';
-- Ending a user's grants spends their unused codes (grants::end_in):
-- found by user, not by scanning every code.
CREATE INDEX oauth_codes_user_id ON oauth_codes (user_id);
-- An app that proves itself with a signed assertion (private_key_jwt)
-- keeps its public keys here, as a JWK Set; it has no secret.
ALTER TABLE oauth_clients ADD COLUMN jwks TEXT;
