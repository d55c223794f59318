-- A customer who writes on several channels (WhatsApp and Instagram, say) is one person with
-- several identities. A team member links them (team events `team.contacts_linked` and
-- `team.contact_unlinked`); linked contacts share a person key: the reference of one of them
-- (`kind|channel id|customer id`), the same on every device. NULL: a contact on its own.
-- Never edit this file once released; add a new migration instead.

ALTER TABLE contacts ADD COLUMN person_key TEXT;

CREATE INDEX contacts_by_person ON contacts (person_key) WHERE person_key IS NOT NULL;
