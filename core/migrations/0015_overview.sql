-- The admin overview counts per day (overview.rs); these indexes cover its
-- queries, so counting a day reads only that day's index entries.
CREATE INDEX audit_events_kind_at ON audit_events (kind, at, user_id);
CREATE INDEX outbox_failed ON outbox (failed_at);
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries (delivered_at);
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (failed_at);
