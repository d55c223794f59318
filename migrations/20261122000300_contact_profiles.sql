-- Messenger and Instagram webhooks carry only the customer's id: their name and username are read
-- from Meta's User Profile API. This records when that was last tried, so a failure waits before
-- the next attempt.
-- Never edit this file once released; add a new migration instead.

ALTER TABLE contacts ADD COLUMN profile_checked_at INTEGER;

CREATE INDEX contacts_without_profile ON contacts (profile_checked_at) WHERE display_name = '';
