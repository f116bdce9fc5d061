-- An appointment's doctor and organisation are copies of its slot's, and the
-- slot already references both. The extra foreign keys made every booking
-- take a KEY SHARE lock on the same practitioner and organisation rows; in a
-- registration rush that turned them into hot rows (multixacts) and made the
-- appointment insert ten times slower than any other statement.
ALTER TABLE appointments DROP CONSTRAINT IF EXISTS appointments_doctor_id_fkey;
ALTER TABLE appointments DROP CONSTRAINT IF EXISTS appointments_org_id_fkey;

-- Aborts the statement it is called in, and with it everything that
-- statement wrote, with `reason` as the message. A booking is written by one
-- statement on PostgreSQL; this makes it all or nothing on a condition found
-- halfway through (the seat taken, then the patient's daily limit reached).
CREATE OR REPLACE FUNCTION ihos_abort(reason TEXT) RETURNS BIGINT LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = reason;
END
$$;
