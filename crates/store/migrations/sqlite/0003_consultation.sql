-- Online consultation: requests, chat messages (server sequence per
-- consultation, idempotent client ids), attachments, reviews, per-department
-- first-visit policy, family-doctor service packages.
-- Retention: messages at least 3 years, records 15 years; nothing deletes
-- them earlier (there is no delete path).

CREATE TABLE consultation_dept_policies (
    department_id TEXT PRIMARY KEY REFERENCES departments(id),
    allow_first_visit INTEGER NOT NULL DEFAULT 0,
    updated_by TEXT NOT NULL REFERENCES accounts(id),
    updated_at INTEGER NOT NULL
);

CREATE TABLE service_packages (
    id TEXT PRIMARY KEY,
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    period_days INTEGER NOT NULL,
    consultations INTEGER NOT NULL,
    price_fen INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
CREATE INDEX service_packages_doctor ON service_packages(doctor_id);

CREATE TABLE package_subscriptions (
    id TEXT PRIMARY KEY,
    package_id TEXT NOT NULL REFERENCES service_packages(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    remaining INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    CHECK (remaining >= 0)
);
CREATE INDEX package_subscriptions_patient ON package_subscriptions(patient_id);

-- Uploaded pictures and records; bytes live in the blob store under `blob_key`.
CREATE TABLE consultation_attachments (
    id TEXT PRIMARY KEY,
    consultation_id TEXT,
    uploader_id TEXT NOT NULL REFERENCES accounts(id),
    mime TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    blob_key TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX consultation_attachments_c ON consultation_attachments(consultation_id);

CREATE TABLE consultations (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    requester_id TEXT NOT NULL REFERENCES accounts(id),
    guardian_present INTEGER NOT NULL DEFAULT 0,
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    department_id TEXT REFERENCES departments(id),
    tier TEXT NOT NULL,
    parent_id TEXT REFERENCES consultations(id),
    status TEXT NOT NULL,
    complaint TEXT NOT NULL,
    suggested_specialty TEXT,
    evidence_kind TEXT,
    evidence_ref TEXT,
    evidence_note TEXT,
    qualified_by TEXT,
    qualified_at INTEGER,
    first_visit_pilot INTEGER NOT NULL DEFAULT 0,
    -- for later linking with the appointments capability
    appointment_id TEXT,
    subscription_id TEXT REFERENCES package_subscriptions(id),
    fee_fen INTEGER NOT NULL DEFAULT 0,
    refunded_at INTEGER,
    end_reason TEXT,
    summary TEXT,
    next_seq INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER,
    started_at INTEGER,
    ended_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX consultations_doctor ON consultations(doctor_id, status, created_at);
CREATE INDEX consultations_patient ON consultations(patient_id, created_at);
CREATE INDEX consultations_expiry ON consultations(status, expires_at);

CREATE TABLE consultation_messages (
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
    PRIMARY KEY (consultation_id, seq),
    UNIQUE (consultation_id, sender_id, client_id)
);

CREATE TABLE consultation_reviews (
    consultation_id TEXT PRIMARY KEY REFERENCES consultations(id),
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    author_id TEXT NOT NULL REFERENCES accounts(id),
    rating INTEGER NOT NULL,
    body TEXT,
    reply TEXT,
    replied_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX consultation_reviews_doctor ON consultation_reviews(doctor_id, created_at);
