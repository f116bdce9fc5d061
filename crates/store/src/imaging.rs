//! Cloud imaging: the index of DICOM studies, series and instances (the
//! files are blobs), radiology reports, consents, patient links and SMS codes.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreError, StoreResult, classify, new_id, now_ms};

#[derive(Debug, Clone)]
pub struct NewStudy {
    pub study_uid: String,
    pub org_id: String,
    pub patient_id: Option<String>,
    pub link_status: String,
    pub link_issue: Option<String>,
    pub dicom_patient_id: String,
    pub dicom_patient_id_hash: String,
    pub dicom_patient_name: String,
    pub study_date: String,
    pub study_time: String,
    pub accession_number: String,
    pub description: String,
    pub referring_physician: String,
    pub order_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSeries {
    pub series_uid: String,
    pub modality: String,
    pub series_number: Option<i64>,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct NewInstance {
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub instance_number: Option<i64>,
    pub transfer_syntax: String,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub frames: i64,
    pub blob_key: String,
    pub size_bytes: i64,
    pub metadata: String,
}

pub const STUDY_COLUMNS: &str = "s.id, s.study_uid, s.org_id, s.patient_id, s.link_status, s.link_issue, \
     s.dicom_patient_id, s.dicom_patient_name, s.study_date, s.study_time, s.accession_number, \
     s.description, s.referring_physician, s.modalities, s.order_ref, \
     (SELECT COUNT(*) FROM imaging_series x WHERE x.study_id = s.id) AS num_series, \
     (SELECT COUNT(*) FROM imaging_instances y WHERE y.study_id = s.id) AS num_instances, s.created_at";

#[derive(Debug, Clone, FromRow)]
pub struct StudyRow {
    pub id: String,
    pub study_uid: String,
    pub org_id: String,
    pub patient_id: Option<String>,
    pub link_status: String,
    pub link_issue: Option<String>,
    pub dicom_patient_id: String,
    pub dicom_patient_name: String,
    pub study_date: String,
    pub study_time: String,
    pub accession_number: String,
    pub description: String,
    pub referring_physician: String,
    /// Comma-separated.
    pub modalities: String,
    pub order_ref: Option<String>,
    pub num_series: i64,
    pub num_instances: i64,
    pub created_at: i64,
}

/// A study with what the reader's relationship to it is (0/1 flags).
#[derive(Debug, Clone, FromRow)]
pub struct VisibleStudy {
    #[sqlx(flatten)]
    pub study: StudyRow,
    pub is_self: i64,
    pub is_guardian: i64,
    pub at_org: i64,
    pub consented: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct SeriesRow {
    pub id: String,
    pub study_id: String,
    pub series_uid: String,
    pub modality: String,
    pub series_number: Option<i64>,
    pub description: String,
    pub num_instances: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct InstanceRow {
    pub id: String,
    pub study_id: String,
    pub series_id: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub instance_number: Option<i64>,
    pub transfer_syntax: String,
    pub rows_n: Option<i64>,
    pub columns_n: Option<i64>,
    pub frames: i64,
    pub blob_key: String,
    pub size_bytes: i64,
}

const INSTANCE_COLUMNS: &str = "i.id, i.study_id, i.series_id, se.series_uid, i.sop_uid, i.sop_class_uid, \
     i.instance_number, i.transfer_syntax, i.rows_n, i.columns_n, i.frames, i.blob_key, i.size_bytes";

/// Outcome of storing one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    New {
        study_id: String,
    },
    /// The SOP instance was already stored; nothing changed.
    Existing {
        study_id: String,
    },
}

/// Store one instance's index rows: the study and series are created on
/// first sight (`new_study` describes them), counters follow. The study
/// must belong to `org_id`; a series must belong to its study.
pub async fn store_instance(
    conn: &mut AnyConnection,
    new_study: &NewStudy,
    series: &NewSeries,
    inst: &NewInstance,
) -> StoreResult<Stored> {
    let now = now_ms();
    // Reads first: in the common case the study and series exist already and
    // only the instance row is written. Counts are computed when read.
    // One read for both: the study and, if known, the series.
    let known: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT s.id, s.org_id, se.id, se.study_id FROM imaging_studies s \
         LEFT JOIN imaging_series se ON se.series_uid = $2 WHERE s.study_uid = $1",
    )
    .bind(&new_study.study_uid)
    .bind(&series.series_uid)
    .fetch_optional(&mut *conn)
    .await?;
    let (study_row, known_series) = match known {
        Some((id, org, Some(se), Some(se_study))) => (Some((id, org)), Some((se, se_study))),
        Some((id, org, _, _)) => (Some((id, org)), None),
        None => (None, None),
    };
    let (study_id, org_id) = match study_row {
        Some(r) => r,
        None => {
            sqlx::query(
                "INSERT INTO imaging_studies (id, study_uid, org_id, patient_id, link_status, link_issue, dicom_patient_id, \
                 dicom_patient_id_hash, dicom_patient_name, study_date, study_time, accession_number, description, \
                 referring_physician, modalities, order_ref, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, '', $15, $16, $16) \
                 ON CONFLICT (study_uid) DO NOTHING",
            )
            .bind(new_id())
            .bind(&new_study.study_uid)
            .bind(&new_study.org_id)
            .bind(new_study.patient_id.as_deref())
            .bind(&new_study.link_status)
            .bind(new_study.link_issue.as_deref())
            .bind(&new_study.dicom_patient_id)
            .bind(&new_study.dicom_patient_id_hash)
            .bind(&new_study.dicom_patient_name)
            .bind(&new_study.study_date)
            .bind(&new_study.study_time)
            .bind(&new_study.accession_number)
            .bind(&new_study.description)
            .bind(&new_study.referring_physician)
            .bind(new_study.order_ref.as_deref())
            .bind(now)
            .execute(&mut *conn)
            .await?;
            sqlx::query_as("SELECT id, org_id FROM imaging_studies WHERE study_uid = $1")
                .bind(&new_study.study_uid)
                .fetch_one(&mut *conn)
                .await?
        }
    };
    if org_id != new_study.org_id {
        return Err(StoreError::Duplicate {
            what: "study_uid".into(),
        });
    }
    let (series_id, series_study) = match known_series {
        Some(r) => r,
        None => {
            let created = sqlx::query(
                "INSERT INTO imaging_series (id, study_id, series_uid, modality, series_number, description, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (series_uid) DO NOTHING",
            )
            .bind(new_id())
            .bind(&study_id)
            .bind(&series.series_uid)
            .bind(&series.modality)
            .bind(series.series_number)
            .bind(&series.description)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
                == 1;
            if created {
                // A new series may bring a new modality to the study.
                sqlx::query(
                    "UPDATE imaging_studies SET updated_at = $2, \
                     modalities = CASE WHEN modalities = '' THEN $3 ELSE modalities || ',' || $3 END \
                     WHERE id = $1 AND (',' || modalities || ',') NOT LIKE ('%,' || $3 || ',%')",
                )
                .bind(&study_id)
                .bind(now)
                .bind(&series.modality)
                .execute(&mut *conn)
                .await?;
            }
            sqlx::query_as("SELECT id, study_id FROM imaging_series WHERE series_uid = $1")
                .bind(&series.series_uid)
                .fetch_one(&mut *conn)
                .await?
        }
    };
    if series_study != study_id {
        return Err(StoreError::Duplicate {
            what: "series_uid".into(),
        });
    }
    let inserted = sqlx::query(
        "INSERT INTO imaging_instances (id, study_id, series_id, sop_uid, sop_class_uid, instance_number, transfer_syntax, \
         rows_n, columns_n, frames, blob_key, size_bytes, metadata, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (sop_uid) DO NOTHING",
    )
    .bind(new_id())
    .bind(&study_id)
    .bind(&series_id)
    .bind(&inst.sop_uid)
    .bind(&inst.sop_class_uid)
    .bind(inst.instance_number)
    .bind(&inst.transfer_syntax)
    .bind(inst.rows)
    .bind(inst.columns)
    .bind(inst.frames)
    .bind(&inst.blob_key)
    .bind(inst.size_bytes)
    .bind(&inst.metadata)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["sop_uid"]))?
    .rows_affected()
        == 1;
    if !inserted {
        return Ok(Stored::Existing { study_id });
    }
    Ok(Stored::New { study_id })
}

/// Who is reading, for visibility filters.
#[derive(Debug, Clone)]
pub enum Reader<'a> {
    /// A logged-in account: sees studies of their orgs, their own and their
    /// children's, and those consented to them.
    Account(&'a str),
    /// A regulator: every study.
    All,
    /// An SMS-verified link: exactly one study.
    Study(&'a str),
}

#[derive(Debug, Clone, Default)]
pub struct StudyQuery {
    pub study_uid: Option<String>,
    pub patient_id_hash: Option<String>,
    /// Prefix match on the DICOM patient name.
    pub patient_name: Option<String>,
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub modality: Option<String>,
    pub accession_number: Option<String>,
    pub platform_patient_id: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

fn flags_sql() -> &'static str {
    // $1 = account id, $2 = now
    "CASE WHEN s.patient_id IN (SELECT p.id FROM patients p WHERE p.account_id = $1) THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS is_self, \
     CASE WHEN s.patient_id IN (SELECT p.id FROM patients p WHERE p.guardian_account_id = $1) THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS is_guardian, \
     CASE WHEN s.org_id IN (SELECT a.org_id FROM affiliations a WHERE a.practitioner_id = $1) THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS at_org, \
     CASE WHEN EXISTS (SELECT 1 FROM imaging_consents c WHERE c.grantee_id = $1 AND c.patient_id = s.patient_id \
          AND (c.study_id IS NULL OR c.study_id = s.id) AND c.revoked_at IS NULL AND c.expires_at > $2) THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END AS consented"
}

/// Studies matching `q` that `reader` may see, newest first, with the
/// relationship flags the access rule needs.
pub async fn search_studies(
    conn: &mut AnyConnection,
    reader: &Reader<'_>,
    q: &StudyQuery,
    now: i64,
) -> StoreResult<Vec<VisibleStudy>> {
    let (account, scope) = match reader {
        Reader::Account(a) => (
            *a,
            "(s.patient_id IN (SELECT p.id FROM patients p WHERE p.account_id = $1 OR p.guardian_account_id = $1) \
             OR s.org_id IN (SELECT a.org_id FROM affiliations a WHERE a.practitioner_id = $1) \
             OR EXISTS (SELECT 1 FROM imaging_consents c WHERE c.grantee_id = $1 AND c.patient_id = s.patient_id \
                AND (c.study_id IS NULL OR c.study_id = s.id) AND c.revoked_at IS NULL AND c.expires_at > $2))"
                .to_string(),
        ),
        Reader::All => ("", "1 = 1".to_string()),
        Reader::Study(_) => ("", "1 = 1".to_string()),
    };
    let only = match reader {
        Reader::Study(id) => *id,
        _ => "",
    };
    let mut sql = format!(
        "SELECT {STUDY_COLUMNS}, {} FROM imaging_studies s WHERE {scope} AND ($3 = '' OR s.id = $3)",
        flags_sql()
    );
    let mut binds: Vec<String> = Vec::new();
    let mut add = |sql: &mut String, cond: &str, v: &str| {
        binds.push(v.to_string());
        sql.push_str(&cond.replace("$?", &format!("${}", binds.len() + 3)));
    };
    if let Some(v) = &q.study_uid {
        add(&mut sql, " AND s.study_uid = $?", v);
    }
    if let Some(v) = &q.patient_id_hash {
        add(&mut sql, " AND s.dicom_patient_id_hash = $?", v);
    }
    if let Some(v) = &q.patient_name {
        add(
            &mut sql,
            " AND s.dicom_patient_name LIKE $?",
            &format!("{v}%"),
        );
    }
    if let Some(v) = &q.date_from {
        add(&mut sql, " AND s.study_date >= $?", v);
    }
    if let Some(v) = &q.date_to {
        add(&mut sql, " AND s.study_date <= $?", v);
    }
    if let Some(v) = &q.modality {
        add(
            &mut sql,
            " AND (',' || s.modalities || ',') LIKE $?",
            &format!("%,{v},%"),
        );
    }
    if let Some(v) = &q.accession_number {
        add(&mut sql, " AND s.accession_number = $?", v);
    }
    if let Some(v) = &q.platform_patient_id {
        add(&mut sql, " AND s.patient_id = $?", v);
    }
    sql.push_str(&format!(
        " ORDER BY s.study_date DESC, s.id DESC LIMIT {} OFFSET {}",
        q.limit.clamp(1, 1000),
        q.offset.max(0)
    ));
    let mut query = sqlx::query_as::<_, VisibleStudy>(AssertSqlSafe(sql))
        .bind(account)
        .bind(now)
        .bind(only);
    for b in binds {
        query = query.bind(b);
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

/// One study with the reader's relationship flags (for an account reader;
/// use "" for readers without an account).
pub async fn study_for(
    conn: &mut AnyConnection,
    study_uid: &str,
    account: &str,
    now: i64,
) -> StoreResult<Option<VisibleStudy>> {
    let sql = format!(
        "SELECT {STUDY_COLUMNS}, {} FROM imaging_studies s WHERE s.study_uid = $3",
        flags_sql()
    );
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(account)
        .bind(now)
        .bind(study_uid)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn study_by_id(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<StudyRow>> {
    let sql = format!("SELECT {STUDY_COLUMNS} FROM imaging_studies s WHERE s.id = $1");
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?)
}

pub async fn series_of(conn: &mut AnyConnection, study_id: &str) -> StoreResult<Vec<SeriesRow>> {
    Ok(sqlx::query_as(
        "SELECT se.id, se.study_id, se.series_uid, se.modality, se.series_number, se.description, \
         (SELECT COUNT(*) FROM imaging_instances y WHERE y.series_id = se.id) AS num_instances \
         FROM imaging_series se WHERE se.study_id = $1 ORDER BY se.series_number, se.series_uid",
    )
    .bind(study_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Instances of a study, optionally of one series / one SOP instance,
/// in instance-number order.
pub async fn instances(
    conn: &mut AnyConnection,
    study_id: &str,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> StoreResult<Vec<InstanceRow>> {
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS} FROM imaging_instances i JOIN imaging_series se ON se.id = i.series_id \
         WHERE i.study_id = $1 AND ($2 = '' OR se.series_uid = $2) AND ($3 = '' OR i.sop_uid = $3) \
         ORDER BY se.series_number, se.series_uid, i.instance_number, i.sop_uid"
    );
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(study_id)
        .bind(series_uid.unwrap_or(""))
        .bind(sop_uid.unwrap_or(""))
        .fetch_all(&mut *conn)
        .await?)
}

/// DICOM JSON metadata of the matching instances, each a JSON object text.
pub async fn metadata(
    conn: &mut AnyConnection,
    study_id: &str,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT i.metadata FROM imaging_instances i JOIN imaging_series se ON se.id = i.series_id \
         WHERE i.study_id = $1 AND ($2 = '' OR se.series_uid = $2) AND ($3 = '' OR i.sop_uid = $3) \
         ORDER BY se.series_number, i.instance_number, i.sop_uid",
    )
    .bind(study_id)
    .bind(series_uid.unwrap_or(""))
    .bind(sop_uid.unwrap_or(""))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Studies waiting for a person to link them to a patient, at the orgs the
/// account administers or practises at.
pub async fn review_queue(conn: &mut AnyConnection, account: &str) -> StoreResult<Vec<StudyRow>> {
    let sql = format!(
        "SELECT {STUDY_COLUMNS} FROM imaging_studies s WHERE s.link_status = 'review' AND \
         (s.org_id IN (SELECT g.scope_id FROM role_grants g WHERE g.account_id = $1 AND g.role = 'org_admin') \
          OR s.org_id IN (SELECT a.org_id FROM affiliations a WHERE a.practitioner_id = $1)) \
         ORDER BY s.created_at LIMIT 200"
    );
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(account)
        .fetch_all(&mut *conn)
        .await?)
}

/// Resolve a study in review by linking it to a patient; false if it was
/// not waiting for review.
pub async fn link_study(
    conn: &mut AnyConnection,
    study_id: &str,
    patient_id: &str,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "UPDATE imaging_studies SET patient_id = $2, link_status = 'linked', link_issue = NULL, updated_at = $3 \
         WHERE id = $1 AND link_status = 'review'",
    )
    .bind(study_id)
    .bind(patient_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct ReportRow {
    pub id: String,
    pub study_id: String,
    pub author_id: String,
    pub author_name: String,
    pub findings: String,
    pub impression: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub signed_at: Option<i64>,
}

/// Write or revise the report of a study. A final (signed) report is never
/// changed: answers false then.
pub async fn save_report(
    conn: &mut AnyConnection,
    study_id: &str,
    author_id: &str,
    findings: &str,
    impression: &str,
    is_final: bool,
) -> StoreResult<bool> {
    let now = now_ms();
    let status = if is_final { "final" } else { "draft" };
    let signed = is_final.then_some(now);
    Ok(sqlx::query(
        "INSERT INTO imaging_reports (id, study_id, author_id, findings, impression, status, created_at, updated_at, signed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
         ON CONFLICT (study_id) DO UPDATE SET author_id = $3, findings = $4, impression = $5, status = $6, updated_at = $7, signed_at = $8 \
         WHERE imaging_reports.status = 'draft'",
    )
    .bind(new_id())
    .bind(study_id)
    .bind(author_id)
    .bind(findings)
    .bind(impression)
    .bind(status)
    .bind(now)
    .bind(signed)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

pub async fn report_of(conn: &mut AnyConnection, study_id: &str) -> StoreResult<Option<ReportRow>> {
    Ok(sqlx::query_as(
        "SELECT r.id, r.study_id, r.author_id, a.display_name AS author_name, r.findings, r.impression, r.status, \
         r.created_at, r.updated_at, r.signed_at FROM imaging_reports r JOIN accounts a ON a.id = r.author_id \
         WHERE r.study_id = $1",
    )
    .bind(study_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Is the account a practitioner in a department of `specialty` at `org_id`?
pub async fn practises_in_specialty(
    conn: &mut AnyConnection,
    account: &str,
    org_id: &str,
    specialty: &str,
) -> StoreResult<bool> {
    let n: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM affiliations a JOIN departments d ON d.id = a.department_id \
         WHERE a.practitioner_id = $1 AND a.org_id = $2 AND d.specialty = $3",
    )
    .bind(account)
    .bind(org_id)
    .bind(specialty)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n.0 > 0)
}

#[derive(Debug, Clone, FromRow)]
pub struct ConsentRow {
    pub id: String,
    pub patient_id: String,
    pub study_id: Option<String>,
    pub grantee_id: String,
    pub grantee_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

pub async fn insert_consent(
    conn: &mut AnyConnection,
    patient_id: &str,
    study_id: Option<&str>,
    grantee_id: &str,
    granted_by: &str,
    expires_at: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO imaging_consents (id, patient_id, study_id, grantee_id, granted_by, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(patient_id)
    .bind(study_id)
    .bind(grantee_id)
    .bind(granted_by)
    .bind(now_ms())
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Revoke a consent given for a patient of `account` (self or guardian).
pub async fn revoke_consent(
    conn: &mut AnyConnection,
    consent_id: &str,
    account: &str,
) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "UPDATE imaging_consents SET revoked_at = $3 WHERE id = $1 AND revoked_at IS NULL AND patient_id IN \
         (SELECT p.id FROM patients p WHERE p.account_id = $2 OR p.guardian_account_id = $2) RETURNING patient_id",
    )
    .bind(consent_id)
    .bind(account)
    .bind(now_ms())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Consents given for the patients of `account` (self and children).
pub async fn consents_of(conn: &mut AnyConnection, account: &str) -> StoreResult<Vec<ConsentRow>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.patient_id, c.study_id, c.grantee_id, a.display_name AS grantee_name, c.created_at, c.expires_at, c.revoked_at \
         FROM imaging_consents c JOIN accounts a ON a.id = c.grantee_id WHERE c.patient_id IN \
         (SELECT p.id FROM patients p WHERE p.account_id = $1 OR p.guardian_account_id = $1) ORDER BY c.created_at DESC",
    )
    .bind(account)
    .fetch_all(&mut *conn)
    .await?)
}

/// Test hook: move a consent's expiry.
pub async fn set_consent_expiry(
    conn: &mut AnyConnection,
    consent_id: &str,
    expires_at: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE imaging_consents SET expires_at = $2 WHERE id = $1")
        .bind(consent_id)
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct LinkRow {
    pub id: String,
    pub study_id: String,
    pub patient_id: String,
    pub expires_at: i64,
}

pub async fn insert_link(
    conn: &mut AnyConnection,
    token_hash: &str,
    study_id: &str,
    patient_id: &str,
    expires_at: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO imaging_links (id, token_hash, study_id, patient_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(token_hash)
    .bind(study_id)
    .bind(patient_id)
    .bind(now_ms())
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn link_by_token(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> StoreResult<Option<LinkRow>> {
    Ok(sqlx::query_as(
        "SELECT id, study_id, patient_id, expires_at FROM imaging_links WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Send times of the codes of a link since `since`.
pub async fn code_times(
    conn: &mut AnyConnection,
    link_id: &str,
    since: i64,
) -> StoreResult<Vec<i64>> {
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT created_at FROM imaging_access_codes WHERE link_id = $1 AND created_at > $2",
    )
    .bind(link_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub async fn insert_code(
    conn: &mut AnyConnection,
    link_id: &str,
    code_hash: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    // Earlier codes of the link die when a new one is sent.
    sqlx::query(
        "UPDATE imaging_access_codes SET expires_at = $2 WHERE link_id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(link_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO imaging_access_codes (id, link_id, code_hash, created_at, expires_at, attempts) VALUES ($1, $2, $3, $4, $5, 0)",
    )
    .bind(new_id())
    .bind(link_id)
    .bind(code_hash)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Use the live code of a link if `code_hash` matches: atomically, once.
/// A wrong guess counts an attempt. Answers whether the code was accepted.
pub async fn consume_code(
    conn: &mut AnyConnection,
    link_id: &str,
    code_hash: &str,
    max_attempts: i64,
    now: i64,
) -> StoreResult<bool> {
    let used = sqlx::query(
        "UPDATE imaging_access_codes SET used_at = $3 WHERE link_id = $1 AND code_hash = $2 AND used_at IS NULL \
         AND expires_at > $3 AND attempts < $4",
    )
    .bind(link_id)
    .bind(code_hash)
    .bind(now)
    .bind(max_attempts)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if used >= 1 {
        return Ok(true);
    }
    sqlx::query(
        "UPDATE imaging_access_codes SET attempts = attempts + 1 WHERE link_id = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(link_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(false)
}

/// Test hook: let the codes of a link expire.
pub async fn expire_codes(conn: &mut AnyConnection, link_id: &str, at: i64) -> StoreResult<()> {
    sqlx::query("UPDATE imaging_access_codes SET expires_at = $2 WHERE link_id = $1")
        .bind(link_id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn insert_view_grant(
    conn: &mut AnyConnection,
    token_hash: &str,
    study_id: &str,
    patient_id: &str,
    expires_at: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO imaging_view_grants (token_hash, study_id, patient_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(study_id)
    .bind(patient_id)
    .bind(now_ms())
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The study a live view grant opens.
pub async fn view_grant(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> StoreResult<Option<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT study_id, patient_id FROM imaging_view_grants WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Row counts of the imaging tables (tests, benchmarks).
pub async fn counts(conn: &mut AnyConnection) -> StoreResult<(i64, i64, i64)> {
    let r: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM imaging_studies), (SELECT COUNT(*) FROM imaging_series), \
         (SELECT COUNT(*) FROM imaging_instances)",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(r)
}

/// The registered patient with this resident-ID blind index: (id, name).
pub async fn patient_by_resident_hash(
    conn: &mut AnyConnection,
    hash: &str,
) -> StoreResult<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT id, name FROM patients WHERE resident_id_hash = $1")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await?,
    )
}
