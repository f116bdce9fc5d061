-- Cloud imaging (云胶片): DICOM studies, series and instances stored through
-- DICOMweb, radiology reports, patient consents for sharing, SMS access codes.
-- The DICOM files themselves are blobs under the data dir; rows hold the
-- index and the DICOM JSON metadata (without pixel data).

CREATE TABLE imaging_studies (
    id TEXT PRIMARY KEY,
    study_uid TEXT NOT NULL UNIQUE,
    -- the uploading (performing) organisation
    org_id TEXT NOT NULL REFERENCES organisations(id),
    -- the platform patient, once linked; NULL while in the review queue
    patient_id TEXT REFERENCES patients(id),
    -- linked | review
    link_status TEXT NOT NULL,
    -- why the study waits for review: no_resident_id | no_patient | name_mismatch
    link_issue TEXT,
    -- PatientID (0010,0020) as shown: masked when it is a resident ID number
    dicom_patient_id TEXT NOT NULL,
    -- keyed hash of PatientID, for exact QIDO matches without the clear value
    dicom_patient_id_hash TEXT NOT NULL,
    dicom_patient_name TEXT NOT NULL,
    study_date TEXT NOT NULL,
    study_time TEXT NOT NULL,
    accession_number TEXT NOT NULL,
    description TEXT NOT NULL,
    referring_physician TEXT NOT NULL,
    -- backslash-separated list, e.g. CT\SR
    modalities TEXT NOT NULL,
    -- the referral or exam order this study answers, when known
    order_ref TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX imaging_studies_patient ON imaging_studies(patient_id);
CREATE INDEX imaging_studies_pid ON imaging_studies(dicom_patient_id_hash);
CREATE INDEX imaging_studies_date ON imaging_studies(study_date);
CREATE INDEX imaging_studies_accession ON imaging_studies(accession_number);
CREATE INDEX imaging_studies_org ON imaging_studies(org_id, link_status);

CREATE TABLE imaging_series (
    id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL REFERENCES imaging_studies(id),
    series_uid TEXT NOT NULL UNIQUE,
    modality TEXT NOT NULL,
    series_number INTEGER,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX imaging_series_study ON imaging_series(study_id);

CREATE TABLE imaging_instances (
    id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL REFERENCES imaging_studies(id),
    series_id TEXT NOT NULL REFERENCES imaging_series(id),
    sop_uid TEXT NOT NULL UNIQUE,
    sop_class_uid TEXT NOT NULL,
    instance_number INTEGER,
    transfer_syntax TEXT NOT NULL,
    rows_n INTEGER,
    columns_n INTEGER,
    frames INTEGER NOT NULL DEFAULT 1,
    blob_key TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    -- DICOM JSON (PS3.18 F.2) of the data set without pixel data
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX imaging_instances_series ON imaging_instances(series_id, instance_number);
CREATE INDEX imaging_instances_study ON imaging_instances(study_id);

CREATE TABLE imaging_reports (
    id TEXT PRIMARY KEY,
    study_id TEXT NOT NULL UNIQUE REFERENCES imaging_studies(id),
    author_id TEXT NOT NULL REFERENCES accounts(id),
    findings TEXT NOT NULL,
    impression TEXT NOT NULL,
    -- draft | final
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    signed_at INTEGER
);

-- A patient's authorisation for a practitioner to see their imaging:
-- one study, or all their studies when study_id is NULL.
CREATE TABLE imaging_consents (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES patients(id),
    study_id TEXT REFERENCES imaging_studies(id),
    grantee_id TEXT NOT NULL REFERENCES accounts(id),
    granted_by TEXT NOT NULL REFERENCES accounts(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX imaging_consents_grantee ON imaging_consents(grantee_id, patient_id);
CREATE INDEX imaging_consents_patient ON imaging_consents(patient_id);

-- A link sent to the patient (SMS) that opens one study after a code.
CREATE TABLE imaging_links (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    study_id TEXT NOT NULL REFERENCES imaging_studies(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- One-time SMS verification codes for a link.
CREATE TABLE imaging_access_codes (
    id TEXT PRIMARY KEY,
    link_id TEXT NOT NULL REFERENCES imaging_links(id),
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    used_at INTEGER
);
CREATE INDEX imaging_access_codes_link ON imaging_access_codes(link_id, created_at);

-- What a verified code grants: viewing one study for a short while.
CREATE TABLE imaging_view_grants (
    token_hash TEXT PRIMARY KEY,
    study_id TEXT NOT NULL REFERENCES imaging_studies(id),
    patient_id TEXT NOT NULL REFERENCES patients(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
