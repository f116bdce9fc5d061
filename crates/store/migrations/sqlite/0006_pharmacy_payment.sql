-- E-prescriptions (pharmacist review before anything is paid or dispensed),
-- one payment order per visit with the insurance split per item, provider
-- payments and idempotent callbacks, refunds, and drug fulfilment.
-- Money in integer fen; times INTEGER ms UTC.

CREATE TABLE patient_allergies (
    patient_id TEXT NOT NULL REFERENCES patients(id),
    substance TEXT NOT NULL,
    noted_by TEXT NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (patient_id, substance)
);

CREATE TABLE prescriptions (
    id TEXT PRIMARY KEY,
    consultation_id TEXT NOT NULL REFERENCES consultations(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    doctor_id TEXT NOT NULL REFERENCES practitioners(account_id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    -- the first version's id; revisions share it
    root_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    previous_id TEXT REFERENCES prescriptions(id),
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    diagnosis TEXT NOT NULL,
    weight_g INTEGER,
    note TEXT,
    signed_by TEXT NOT NULL REFERENCES accounts(id),
    signed_at INTEGER NOT NULL,
    signature_method TEXT NOT NULL,
    signature TEXT NOT NULL,
    reviewed_by TEXT REFERENCES accounts(id),
    reviewed_at INTEGER,
    review_note TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (root_id, version)
);
CREATE INDEX prescriptions_consultation ON prescriptions(consultation_id, created_at);
CREATE INDEX prescriptions_patient ON prescriptions(patient_id, created_at);
CREATE INDEX prescriptions_queue ON prescriptions(org_id, status, created_at);

CREATE TABLE prescription_items (
    prescription_id TEXT NOT NULL REFERENCES prescriptions(id),
    line INTEGER NOT NULL,
    drug_code TEXT NOT NULL,
    generic_name TEXT NOT NULL,
    form TEXT NOT NULL,
    strength TEXT NOT NULL,
    unit TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    dosage TEXT NOT NULL,
    frequency TEXT NOT NULL,
    days INTEGER NOT NULL,
    unit_price_fen INTEGER NOT NULL,
    insurance TEXT NOT NULL,
    reimburse_permille INTEGER NOT NULL,
    PRIMARY KEY (prescription_id, line),
    UNIQUE (prescription_id, drug_code)
);

-- One order per visit: (visit_kind, visit_id) is unique.
CREATE TABLE payment_orders (
    id TEXT PRIMARY KEY,
    visit_kind TEXT NOT NULL,
    visit_id TEXT NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    status TEXT NOT NULL,
    amount_fen INTEGER NOT NULL DEFAULT 0,
    insured_fen INTEGER NOT NULL DEFAULT 0,
    self_fen INTEGER NOT NULL DEFAULT 0,
    refunded_fen INTEGER NOT NULL DEFAULT 0,
    paid_at INTEGER,
    closed_at INTEGER,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (visit_kind, visit_id),
    CHECK (amount_fen = insured_fen + self_fen),
    CHECK (refunded_fen <= self_fen)
);
CREATE INDEX payment_orders_patient ON payment_orders(patient_id, created_at);
CREATE INDEX payment_orders_expiry ON payment_orders(status, expires_at);

CREATE TABLE payment_order_items (
    order_id TEXT NOT NULL REFERENCES payment_orders(id),
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    description TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price_fen INTEGER NOT NULL,
    reimburse_permille INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL,
    insured_fen INTEGER NOT NULL,
    self_fen INTEGER NOT NULL,
    refunded INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (order_id, kind, ref_id),
    CHECK (amount_fen = insured_fen + self_fen)
);

-- One payment attempt with a provider.
CREATE TABLE payment_transactions (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES payment_orders(id),
    provider TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    status TEXT NOT NULL,
    provider_ref TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    settled_at INTEGER
);
CREATE INDEX payment_transactions_order ON payment_transactions(order_id);

-- Every provider callback once: a duplicate event id changes nothing.
CREATE TABLE payment_callbacks (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE TABLE payment_refunds (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES payment_orders(id),
    transaction_id TEXT NOT NULL REFERENCES payment_transactions(id),
    amount_fen INTEGER NOT NULL,
    reason TEXT NOT NULL,
    -- what is refunded, e.g. 'order' or a prescription id; one refund each
    scope TEXT NOT NULL,
    status TEXT NOT NULL,
    provider_ref TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (order_id, scope)
);

-- How the drugs of one approved prescription reach the patient.
CREATE TABLE rx_fulfilments (
    prescription_id TEXT PRIMARY KEY REFERENCES prescriptions(id),
    order_id TEXT NOT NULL REFERENCES payment_orders(id),
    org_id TEXT NOT NULL REFERENCES organisations(id),
    method TEXT NOT NULL,
    status TEXT NOT NULL,
    -- pickup code (window) or verification code (pharmacy transfer)
    code TEXT,
    address TEXT,
    courier TEXT,
    tracking_no TEXT,
    dispensed_org_id TEXT REFERENCES organisations(id),
    dispensed_by TEXT REFERENCES accounts(id),
    dispensed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX rx_fulfilments_code ON rx_fulfilments(code);

CREATE TABLE rx_fulfilment_events (
    id TEXT PRIMARY KEY,
    prescription_id TEXT NOT NULL REFERENCES rx_fulfilments(prescription_id),
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    actor_id TEXT
);
CREATE INDEX rx_fulfilment_events_rx ON rx_fulfilment_events(prescription_id, at);
