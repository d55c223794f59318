-- The WhatsApp Business Account a number belongs to (from the webhooks' entry id): its message
-- templates are listed by account.
-- Never edit this file once released; add a new migration instead.

ALTER TABLE channels ADD COLUMN account_id TEXT;
