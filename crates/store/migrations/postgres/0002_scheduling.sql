-- Schedules and time-slot appointments (分时段预约).
-- Slots are generated from weekly templates (or added as one-off extra hours);
-- `remaining` is taken with a conditional UPDATE, never read-then-write.

CREATE TABLE schedule_templates (
    id TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    department_id TEXT REFERENCES departments(id),
    weekday BIGINT NOT NULL,
    start_minute BIGINT NOT NULL,
    end_minute BIGINT NOT NULL,
    slot_minutes BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    slot_type TEXT NOT NULL,
    fee_fen BIGINT NOT NULL,
    mode TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    -- last local day (YYYY-MM-DD) whose slots were made; '' before the first run
    generated_until TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX schedule_templates_doctor ON schedule_templates(doctor_id);

CREATE TABLE slots (
    id TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    department_id TEXT REFERENCES departments(id),
    -- NULL for one-off extra hours
    template_id TEXT REFERENCES schedule_templates(id),
    service_date TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    slot_minutes BIGINT NOT NULL,
    mode TEXT NOT NULL,
    slot_type TEXT NOT NULL,
    fee_fen BIGINT NOT NULL,
    capacity BIGINT NOT NULL,
    remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= capacity),
    opens_at BIGINT NOT NULL,
    -- open | withdrawn
    status TEXT NOT NULL DEFAULT 'open',
    created_at BIGINT NOT NULL,
    UNIQUE (doctor_id, mode, starts_at)
);
CREATE INDEX slots_day ON slots(service_date, doctor_id);
CREATE INDEX slots_template ON slots(template_id, starts_at);

CREATE TABLE appointments (
    id TEXT PRIMARY KEY,
    slot_id TEXT NOT NULL REFERENCES slots(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    booked_by TEXT NOT NULL REFERENCES accounts(id),
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    service_date TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    fee_fen BIGINT NOT NULL,
    code TEXT NOT NULL UNIQUE,
    -- booked | cancelled | late_cancelled | displaced | attended | no_show
    status TEXT NOT NULL,
    -- starts_at while booked, NULL otherwise: one patient, one booking per start time
    active_start BIGINT,
    refund_fen BIGINT NOT NULL DEFAULT 0,
    reminded_at BIGINT,
    queue_notified_at BIGINT,
    created_at BIGINT NOT NULL,
    closed_at BIGINT,
    UNIQUE (patient_id, active_start)
);
CREATE INDEX appointments_slot ON appointments(slot_id, status);
CREATE INDEX appointments_patient ON appointments(patient_id, service_date);
CREATE INDEX appointments_booker ON appointments(booked_by, starts_at);
CREATE INDEX appointments_doctor_day ON appointments(doctor_id, service_date);
CREATE INDEX appointments_due ON appointments(status, starts_at);

-- Active bookings per patient and day, taken with a conditional upsert: the
-- per-day limit holds under concurrency and serialises one patient's bookings.
CREATE TABLE patient_day_bookings (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    service_date TEXT NOT NULL,
    booked BIGINT NOT NULL CHECK (booked >= 0),
    PRIMARY KEY (patient_id, service_date)
);

-- Leave (停诊): no slots are made for the doctor on these local days.
CREATE TABLE doctor_leave (
    id TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    from_date TEXT NOT NULL,
    to_date TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX doctor_leave_doctor ON doctor_leave(doctor_id, to_date);

CREATE INDEX outbox_recipient ON outbox(recipient_id, created_at);
