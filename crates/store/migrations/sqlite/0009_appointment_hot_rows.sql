-- PostgreSQL drops the appointment's doctor and organisation foreign keys
-- here (they locked hot rows in a rush; the slot references both). SQLite
-- takes no row locks for them, and dropping a constraint would mean
-- rebuilding the table, so it keeps them. Nothing to do.
SELECT 1;
