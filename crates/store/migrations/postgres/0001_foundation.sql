-- Identity, organisations, sessions, audit and outbox.
-- Portable types: TEXT ids (UUIDv7), INTEGER milliseconds UTC, TEXT JSON.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    phone_enc TEXT NOT NULL,
    phone_hash TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE role_grants (
    account_id TEXT NOT NULL REFERENCES accounts(id),
    role TEXT NOT NULL,
    -- organisation or consortium the role is scoped to; '' for platform-wide roles
    scope_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, role, scope_id)
);

CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    level TEXT,
    province TEXT NOT NULL,
    city TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE consortia (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    lead_org_id TEXT NOT NULL REFERENCES organisations(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE consortium_members (
    consortium_id TEXT NOT NULL REFERENCES consortia(id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (consortium_id, org_id)
);

CREATE TABLE departments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    specialty TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE patients (
    id TEXT PRIMARY KEY,
    -- the patient's own login; NULL for a child registered by a guardian
    account_id TEXT UNIQUE REFERENCES accounts(id),
    name TEXT NOT NULL,
    resident_id_enc TEXT NOT NULL,
    resident_id_hash TEXT NOT NULL UNIQUE,
    resident_id_masked TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    phone_enc TEXT,
    guardian_account_id TEXT REFERENCES accounts(id),
    guardian_relation TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX patients_guardian ON patients(guardian_account_id);

CREATE TABLE practitioners (
    account_id TEXT PRIMARY KEY REFERENCES accounts(id),
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    title TEXT NOT NULL,
    licence_no TEXT NOT NULL UNIQUE,
    practising_since TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE affiliations (
    practitioner_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    department_id TEXT REFERENCES departments(id),
    is_primary BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (practitioner_id, org_id)
);
CREATE INDEX affiliations_org ON affiliations(org_id);

-- Active care relationships (consultation, referral, follow-up) that let a
-- practitioner read a patient's record.
CREATE TABLE care_relationships (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    practitioner_id TEXT NOT NULL REFERENCES accounts(id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    kind TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL
);
CREATE INDEX care_relationships_lookup ON care_relationships(patient_id, practitioner_id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);

CREATE TABLE login_attempts (
    key_hash TEXT NOT NULL,
    at BIGINT NOT NULL,
    succeeded BIGINT NOT NULL
);
CREATE INDEX login_attempts_key ON login_attempts(key_hash, at);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor_roles TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    ground TEXT NOT NULL,
    org_id TEXT,
    request_id TEXT
);
CREATE INDEX audit_subject ON audit_log(subject_type, subject_id, at);
CREATE INDEX audit_actor ON audit_log(actor_id, at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    topic TEXT NOT NULL,
    recipient_id TEXT,
    payload TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT
);
CREATE INDEX outbox_pending ON outbox(delivered_at, created_at);
