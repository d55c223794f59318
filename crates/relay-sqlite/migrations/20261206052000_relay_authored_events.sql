-- The relay now writes its own kinds (contact.*, workspace.*, channel.*, meta.*) with author
-- 'relay', and desks apply those kinds only from the relay. Events its routes wrote before, in the
-- acting member's name, are put in the relay's name so a desk that has not applied them yet still
-- does: channel changes (they only make desks refresh their tokens) all of them; erasures and
-- retention only when an admin or owner published them (the routes' permission). What an agent
-- published through POST /v1/events was a forgery: it stays in the agent's name, and desks ignore it.
UPDATE events SET author = 'relay'
WHERE author IS NOT NULL AND author <> 'relay'
  AND (kind LIKE 'channel.%' OR kind LIKE 'meta.%'
       OR ((kind LIKE 'contact.%' OR kind LIKE 'workspace.%')
           AND author IN (SELECT m.id FROM members m
                          WHERE m.workspace_id = events.workspace_id AND m.role IN ('admin', 'owner'))));
