-- The provider's access token, kept only when the operator asks
-- (`UPSTREAM_KEEP_TOKENS`), for their product to call the provider's API
-- for the person: sealed (XChaCha20-Poly1305 under the deployment secret,
-- bound to the identity's issuer and subject), replaced at each sign-in
-- through the provider, gone with the link.
ALTER TABLE identities ADD COLUMN access_token TEXT;
ALTER TABLE identities ADD COLUMN token_kept_at BIGINT;
