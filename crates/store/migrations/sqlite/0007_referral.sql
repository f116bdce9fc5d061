-- Regional medical consortium: two-way referral as a closed loop, exam
-- privileges and exam slots, wards and bed reservation, remote consultation.
-- Scarce things (exam slot seats, free beds) are taken with a conditional
-- UPDATE, never read-then-write. The referral timeline is append-only.

CREATE TABLE exam_privileges (
    practitioner_id TEXT NOT NULL REFERENCES practitioners(account_id),
    exam_type TEXT NOT NULL,
    granted_by TEXT NOT NULL REFERENCES accounts(id),
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (practitioner_id, exam_type)
);

CREATE TABLE exam_slots (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    exam_type TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    capacity INTEGER NOT NULL,
    remaining INTEGER NOT NULL CHECK (remaining >= 0 AND remaining <= capacity),
    created_by TEXT NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, exam_type, starts_at)
);
CREATE INDEX exam_slots_org ON exam_slots(org_id, exam_type, starts_at);

CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    direction TEXT NOT NULL,
    kind TEXT NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    from_org_id TEXT NOT NULL REFERENCES organisations(id),
    from_doctor_id TEXT NOT NULL REFERENCES accounts(id),
    to_org_id TEXT NOT NULL REFERENCES organisations(id),
    to_department_id TEXT REFERENCES departments(id),
    -- the named receiving doctor, or the one who accepted
    to_doctor_id TEXT REFERENCES accounts(id),
    reason TEXT NOT NULL,
    summary TEXT NOT NULL,
    exam_type TEXT,
    repeat_reason TEXT,
    status TEXT NOT NULL,
    status_at INTEGER NOT NULL,
    due_at INTEGER,
    overdue_at INTEGER,
    decline_reason TEXT,
    appointment_id TEXT REFERENCES appointments(id),
    exam_slot_id TEXT REFERENCES exam_slots(id),
    exam_starts_at INTEGER,
    results TEXT,
    results_at INTEGER,
    follow_up_plan TEXT,
    created_at INTEGER NOT NULL,
    closed_at INTEGER
);
CREATE INDEX referrals_from ON referrals(from_doctor_id, created_at);
CREATE INDEX referrals_to ON referrals(to_org_id, status);
CREATE INDEX referrals_patient ON referrals(patient_id, created_at);
CREATE INDEX referrals_consortium ON referrals(consortium_id, status);
CREATE INDEX referrals_due ON referrals(due_at);
CREATE INDEX referrals_exam ON referrals(patient_id, exam_type, status_at);

-- The timeline: one row per step, never changed or removed.
CREATE TABLE referral_events (
    id TEXT PRIMARY KEY,
    referral_id TEXT NOT NULL REFERENCES referrals(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor_id TEXT REFERENCES accounts(id),
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    note TEXT,
    UNIQUE (referral_id, seq)
);
CREATE TRIGGER referral_events_no_update BEFORE UPDATE ON referral_events
BEGIN SELECT RAISE(ABORT, 'referral timeline is append-only'); END;
CREATE TRIGGER referral_events_no_delete BEFORE DELETE ON referral_events
BEGIN SELECT RAISE(ABORT, 'referral timeline is append-only'); END;

CREATE TABLE wards (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    department_id TEXT REFERENCES departments(id),
    name TEXT NOT NULL,
    beds_total INTEGER NOT NULL,
    beds_free INTEGER NOT NULL CHECK (beds_free >= 0 AND beds_free <= beds_total),
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE bed_requests (
    id TEXT PRIMARY KEY,
    ward_id TEXT NOT NULL REFERENCES wards(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    requested_by TEXT NOT NULL REFERENCES accounts(id),
    from_org_id TEXT NOT NULL REFERENCES organisations(id),
    referral_id TEXT REFERENCES referrals(id),
    reason TEXT NOT NULL,
    status TEXT NOT NULL,
    reviewed_by TEXT REFERENCES accounts(id),
    review_note TEXT,
    admit_on TEXT,
    created_at INTEGER NOT NULL,
    reviewed_at INTEGER,
    discharged_at INTEGER
);
CREATE INDEX bed_requests_ward ON bed_requests(ward_id, status);

CREATE TABLE remote_consults (
    id TEXT PRIMARY KEY,
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    requested_by TEXT NOT NULL REFERENCES accounts(id),
    from_org_id TEXT NOT NULL REFERENCES organisations(id),
    expert_id TEXT NOT NULL REFERENCES accounts(id),
    question TEXT NOT NULL,
    -- JSON array of imaging study ids attached to the case
    study_ids TEXT NOT NULL,
    records TEXT,
    status TEXT NOT NULL,
    opinion TEXT,
    created_at INTEGER NOT NULL,
    answered_at INTEGER
);
CREATE INDEX remote_consults_expert ON remote_consults(expert_id, status);
CREATE INDEX remote_consults_requester ON remote_consults(requested_by, created_at);
