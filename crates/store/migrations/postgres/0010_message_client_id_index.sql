-- The idempotency key of a chat message leads with the client id instead of
-- the consultation. Keyed by consultation, every group commit changed the
-- last index page of every busy consultation (and of both its senders):
-- about one page per message, each a full-page image in the WAL after a
-- checkpoint. Client ids are time-ordered in practice (our page sends
-- `c-<time>-<random>`), so inserts now gather at one end of the index;
-- random ids cost what they did before. Lookups give all three columns, so
-- any order serves them.
CREATE UNIQUE INDEX consultation_messages_client_id
    ON consultation_messages (client_id, sender_id, consultation_id);
ALTER TABLE consultation_messages
    DROP CONSTRAINT consultation_messages_consultation_id_sender_id_client_id_key;
