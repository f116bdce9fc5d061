//! The patient's SMS link and one-time code to open images on a phone.

use super::*;

// ------------------------------------------------------------ SMS codes

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// The masked phone the code went to.
    pub sent_to: String,
    pub expires_in_s: i64,
}

pub(super) async fn live_link(conn: &mut AnyConnection, token: &str) -> ApiResult<store::LinkRow> {
    store::link_by_token(conn, &token_hash(token), now_ms())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                ErrorCode::LinkInvalid,
                "This link is not valid or has expired; ask the hospital to send a new one.",
            )
        })
}

pub(super) fn code_hash(link_id: &str, code: &str) -> String {
    token_hash(&format!("{link_id}:{code}"))
}

/// Send a one-time code for a link to the patient's phone.
pub async fn send_code(state: &AppState, token: &str) -> ApiResult<CodeSent> {
    let mut tx = state.store.begin().await?;
    let link = live_link(&mut tx, token).await?;
    let now = now_ms();
    let recent = store::code_times(&mut tx, &link.id, now - 3600 * 1000).await?;
    if let Err(wait) = sms::may_send(&recent, now) {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyCodes,
            format!("A code was sent recently; please wait {wait} seconds before asking again."),
        ));
    }
    let Some((account_id, phone)) = patient_contact(state, &mut tx, &link.patient_id).await? else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            ErrorCode::NoPhone,
            "The patient has no phone number to send a code to.",
        ));
    };
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    store::insert_code(
        &mut tx,
        &link.id,
        &code_hash(&link.id, &code),
        now,
        now + sms::CODE_TTL_MS,
    )
    .await?;
    let masked = mask_phone(&phone);
    ihos_store::outbox::put(
        &mut tx,
        "sms.imaging_code",
        Some(&account_id),
        &json!({ "to": masked, "phone_enc": state.vault.encrypt(&phone), "code": code,
                 "text": format!("【ihos】您查看影像的验证码为{code}，5分钟内有效，请勿告诉他人。")
 }),
        ihos_store::now_ms(),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    if cfg!(debug_assertions) {
        // The development SMS channel is the log; production delivers the outbox.
        tracing::info!(target: "ihos::sms", to = %masked, %code, "imaging access code (dev log channel)");
    }
    Ok(CodeSent {
        sent_to: masked,
        expires_in_s: sms::CODE_TTL_MS / 1000,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeInput {
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub study_uid: String,
    /// View grant: sent back as the `ihos_imaging` cookie or `X-Imaging-Grant` header.
    pub grant: String,
    pub expires_at: i64,
}

/// Check a code: once, before expiry, within the attempt limit.
pub async fn verify_code(state: &AppState, token: &str, input: CodeInput) -> ApiResult<Verified> {
    let code = sms::parse_code(&input.code).ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidCode,
                "The code is the 6 digits in the SMS.",
            )
            .on("code"),
        )
    })?;
    let mut tx = state.store.begin().await?;
    let link = live_link(&mut tx, token).await?;
    let now = now_ms();
    let ok = store::consume_code(
        &mut tx,
        &link.id,
        &code_hash(&link.id, &code),
        sms::MAX_ATTEMPTS,
        now,
    )
    .await?;
    if !ok {
        tx.commit().await.map_err(ApiError::internal)?;
        return Err(ApiError::bad_request(
            ErrorCode::WrongCode,
            "The code is wrong, already used or expired; ask for a new code.",
        ));
    }
    let grant = new_token();
    let expires_at = now + sms::VIEW_TTL_MS;
    store::insert_view_grant(
        &mut tx,
        &token_hash(&grant),
        &link.study_id,
        &link.patient_id,
        expires_at,
    )
    .await?;
    let study = store::study_by_id(&mut tx, &link.study_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    audit::record(
        &mut tx,
        &audit::AuditEntry {
            actor_id: None,
            actor_roles: "sms_link",
            action: "imaging.link_verified",
            subject_type: "imaging_study",
            subject_id: &study.id,
            ground: "sms_verified_link",
            org_id: Some(&study.org_id),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(Verified {
        study_uid: study.study_uid,
        grant,
        expires_at,
    })
}

/// Resolve a view grant token to a reader.
pub async fn grant_reader(state: &AppState, grant: &str) -> ApiResult<Option<Reader>> {
    let mut conn = state.store.conn().await?;
    Ok(store::view_grant(&mut conn, &token_hash(grant), now_ms())
        .await?
        .map(|(study_id, patient_id)| Reader::Grant {
            study_id,
            patient_id,
        }))
}

/// The study a link opens (its UID), without authorising anything.
pub async fn link_study_uid(state: &AppState, token: &str) -> ApiResult<String> {
    let mut conn = state.store.conn().await?;
    let link = live_link(&mut conn, token).await?;
    Ok(store::study_by_id(&mut conn, &link.study_id)
        .await?
        .ok_or_else(ApiError::not_found)?
        .study_uid)
}
