-- The language an account's mail is written in: the request's at sign-up,
-- then whatever the language switcher last chose while signed in.
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
