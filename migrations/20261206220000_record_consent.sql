-- Consent to marketing messages (issue 24): every `team.consent_recorded` event this cache
-- applied, per contact (a contact is one customer on one channel). The contact's consent is its
-- latest record in the log's order (highest seq), as on the relay; older ones are its history.
--
-- Records go with their contact (ON DELETE CASCADE): an erasure (P14) deletes the contact and
-- every record of it, and so does retention when the contact has no conversation left.
-- `recorded_by` is the event's author as the relay stamped it: a member id, or
-- `automation:consent` for a customer's stop or start keyword.
-- Never edit this file once released; add a new migration instead.

CREATE TABLE consent_records (
    seq          INTEGER PRIMARY KEY,      -- the log's seq of the event (one record per event)
    contact_id   INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    opted_in     INTEGER NOT NULL CHECK (opted_in IN (0, 1)),
    source       TEXT NOT NULL CHECK (source IN ('form', 'agent', 'keyword', 'import')),
    at           INTEGER NOT NULL,         -- when it was given or withdrawn (UTC ms)
    recorded_by  TEXT,                     -- member id, or automation:consent
    note         TEXT                      -- what the member noted, if anything
) STRICT;

CREATE INDEX consent_records_by_contact ON consent_records (contact_id, seq);
