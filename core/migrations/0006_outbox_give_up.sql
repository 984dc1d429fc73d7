-- The outbox gives up on a mail after a bounded time (MAIL_GIVE_UP_AFTER_SECS):
-- it is marked failed, counted, logged, and its subject and bodies (codes,
-- links) are blanked, as they are once a mail is sent.
ALTER TABLE outbox ADD COLUMN failed_at BIGINT;
