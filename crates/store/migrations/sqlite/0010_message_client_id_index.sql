-- The idempotency key of a chat message leads with the client id instead of
-- the consultation. Keyed by consultation, every group commit changed the
-- last index page of every busy consultation (and of both its senders):
-- about one page per message. Client ids are time-ordered in practice (our
-- page sends `c-<time>-<random>`), so inserts now gather at one end of the
-- index; random ids cost what they did before. Lookups give all three
-- columns, so any order serves them.
--
-- SQLite cannot drop a table constraint: the table is rebuilt. Nothing
-- references consultation_messages, so dropping the old table is safe with
-- foreign keys on.
CREATE TABLE consultation_messages_rebuilt (
    consultation_id TEXT NOT NULL REFERENCES consultations(id),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    sender_id TEXT NOT NULL REFERENCES accounts(id),
    sender_role TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT,
    attachment_id TEXT REFERENCES consultation_attachments(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (consultation_id, seq)
);
INSERT INTO consultation_messages_rebuilt
    (consultation_id, seq, id, sender_id, sender_role, client_id, kind, body, attachment_id, created_at)
SELECT consultation_id, seq, id, sender_id, sender_role, client_id, kind, body, attachment_id, created_at
FROM consultation_messages;
DROP TABLE consultation_messages;
ALTER TABLE consultation_messages_rebuilt RENAME TO consultation_messages;
CREATE UNIQUE INDEX consultation_messages_client_id
    ON consultation_messages (client_id, sender_id, consultation_id);
