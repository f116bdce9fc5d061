-- Home nursing (互联网+护理) and follow-up plans (随访 / chronic disease management).
-- Times BIGINT ms UTC, money BIGINT fen, JSON as TEXT. Nothing here is
-- deleted: visit records and follow-up records are medical records (15 years).

-- The catalogue: services a hospital offers at home.
CREATE TABLE nursing_services (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    fee_fen BIGINT NOT NULL CHECK (fee_fen >= 0),
    duration_minutes BIGINT NOT NULL,
    min_years BIGINT NOT NULL,
    -- the qualification a nurse must hold (picc, wound_care, ...); NULL: none beyond the years
    required_qualification TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, code)
);

-- Qualifications a hospital has verified for a nurse (PICC certificate, ...).
CREATE TABLE nurse_qualifications (
    nurse_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    qualification TEXT NOT NULL,
    granted_by TEXT NOT NULL REFERENCES accounts(id),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (nurse_id, org_id, qualification)
);

-- An explicit assessment by a doctor or nurse of the hospital that the
-- patient may receive nursing at home.
CREATE TABLE nursing_assessments (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    assessor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    valid_until BIGINT NOT NULL
);
CREATE INDEX nursing_assessments_patient ON nursing_assessments(patient_id, org_id, valid_until);

CREATE TABLE nursing_orders (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES nursing_services(id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    ordered_by TEXT NOT NULL REFERENCES accounts(id),
    -- awaiting_payment | paid | assigned | accepted | in_visit | completed | cancelled
    status TEXT NOT NULL,
    fee_fen BIGINT NOT NULL,
    address_enc TEXT NOT NULL,
    address_masked TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    window_end BIGINT NOT NULL,
    patient_note TEXT,
    -- what the order rests on: consultation, appointment or assessment, and its id
    assessment_kind TEXT NOT NULL,
    assessment_ref TEXT NOT NULL,
    nurse_id TEXT REFERENCES practitioners(account_id),
    assigned_by TEXT REFERENCES accounts(id),
    paid_at BIGINT,
    assigned_at BIGINT,
    accepted_at BIGINT,
    checked_in_at BIGINT,
    check_in_lat_e6 BIGINT,
    check_in_lng_e6 BIGINT,
    checked_out_at BIGINT,
    check_out_lat_e6 BIGINT,
    check_out_lng_e6 BIGINT,
    record_text TEXT,
    record_vitals TEXT,
    cancelled_at BIGINT,
    cancel_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX nursing_orders_patient ON nursing_orders(patient_id, created_at);
CREATE INDEX nursing_orders_nurse ON nursing_orders(nurse_id, status);
CREATE INDEX nursing_orders_org ON nursing_orders(org_id, status, created_at);

-- The visit's timeline: every step, who, when (the complete visit record).
CREATE TABLE nursing_order_events (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES nursing_orders(id),
    at BIGINT NOT NULL,
    actor_id TEXT REFERENCES accounts(id),
    action TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX nursing_order_events_order ON nursing_order_events(order_id, at);

CREATE TABLE nursing_safety_alerts (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES nursing_orders(id),
    nurse_id TEXT NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    note TEXT NOT NULL,
    lat_e6 BIGINT,
    lng_e6 BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX nursing_safety_alerts_order ON nursing_safety_alerts(order_id);

CREATE TABLE nursing_reviews (
    order_id TEXT PRIMARY KEY REFERENCES nursing_orders(id),
    nurse_id TEXT NOT NULL REFERENCES practitioners(account_id),
    author_id TEXT NOT NULL REFERENCES accounts(id),
    rating BIGINT NOT NULL,
    body TEXT,
    created_at BIGINT NOT NULL
);

-- Follow-up plans made from a template kept in the repository.
CREATE TABLE followup_plans (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    department_id TEXT REFERENCES departments(id),
    template_code TEXT NOT NULL,
    -- discharge | visit
    occasion TEXT NOT NULL,
    consultation_id TEXT,
    -- the template as assigned (ranges and tasks stay as they were)
    template_json TEXT NOT NULL,
    status TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX followup_plans_patient ON followup_plans(patient_id, created_at);
CREATE INDEX followup_plans_doctor ON followup_plans(doctor_id, created_at);

CREATE TABLE followup_tasks (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES followup_plans(id),
    seq BIGINT NOT NULL,
    -- questionnaire | bp_reading | glucose_reading | medication_adherence | revisit_reminder
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    -- due | done | missed
    status TEXT NOT NULL,
    result_json TEXT,
    -- 1 in range, 0 out of range, NULL not a reading
    in_range BIGINT,
    done_at BIGINT,
    done_by TEXT REFERENCES accounts(id),
    missed_at BIGINT,
    UNIQUE (plan_id, seq)
);
CREATE INDEX followup_tasks_due ON followup_tasks(status, due_at);

-- Alerts to the doctor: one per task and kind, whatever retries or races.
CREATE TABLE followup_alerts (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL REFERENCES followup_plans(id),
    task_id TEXT NOT NULL REFERENCES followup_tasks(id),
    doctor_id TEXT NOT NULL REFERENCES accounts(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    -- abnormal_reading | missed_task
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    UNIQUE (task_id, kind)
);
CREATE INDEX followup_alerts_doctor ON followup_alerts(doctor_id, created_at);
