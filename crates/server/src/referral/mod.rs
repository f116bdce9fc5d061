//! HTTP for the regional medical consortium: two-way referral (visit and
//! exam), exam privileges and exam slots, wards and bed reservation, remote
//! consultation, the duplicate-exam reminder and the consortium dashboard.

pub mod consortium;
pub mod demo;
pub mod overdue_job;
pub mod pages;
pub mod service;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use ihos_domain::ErrorCode;
use ihos_domain::referral::{Action, BedAction};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;
use consortium::*;
use service::*;

pub use pages::TEXT;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/referrals", get(my_referrals).post(create_referral))
        .route("/api/v1/referrals/exam-history", get(exam_history))
        .route("/api/v1/referrals/{id}", get(referral))
        .route("/api/v1/referrals/{id}/{action}", post(referral_step))
        .route(
            "/api/v1/practitioners/{id}/exam-privileges",
            get(list_privileges).post(grant_privilege),
        )
        .route(
            "/api/v1/organisations/{id}/exam-slots",
            get(list_exam_slots).post(add_exam_slot),
        )
        .route("/api/v1/organisations/{id}/wards", post(add_ward))
        .route("/api/v1/consortia/{id}/wards", get(wards))
        .route("/api/v1/consortia/{id}/referral-dashboard", get(dashboard))
        .route("/api/v1/bed-requests", get(bed_requests).post(request_bed))
        .route("/api/v1/bed-requests/{id}/{action}", post(review_bed))
        .route(
            "/api/v1/remote-consultations",
            get(remote_consults).post(ask_expert),
        )
        .route("/api/v1/remote-consultations/{id}", get(remote_consult))
        .route("/api/v1/remote-consultations/{id}/answer", post(answer))
        .merge(pages::router())
}

/// Six random characters that do not look alike: the desk code of an appointment booked on accept.
pub fn booking_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Refer a patient up to the upper hospital (visit or exam), or down with a follow-up plan.
#[utoipa::path(post, path = "/api/v1/referrals", tag = "referral", request_body = NewReferralInput,
    responses((status = 201, body = ReferralView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_referral(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewReferralInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::create(&state, &caller, input).await?),
    ))
}

/// The caller's referrals: sent and received (doctors), or their own and their children's (patients).
#[utoipa::path(get, path = "/api/v1/referrals", tag = "referral",
    responses((status = 200, body = [ReferralView]), (status = 401, body = ErrorBody)))]
pub async fn my_referrals(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<ReferralView>>> {
    Ok(AxumJson(service::mine(&state, &caller).await?))
}

/// One referral with its timeline (a patient record: authorised and audited).
#[utoipa::path(get, path = "/api/v1/referrals/{id}", tag = "referral",
    responses((status = 200, body = ReferralView), (status = 404, body = ErrorBody)))]
pub async fn referral(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<ReferralView>> {
    Ok(AxumJson(service::read(&state, &caller, &id).await?))
}

fn parse_action(s: &str) -> Option<Action> {
    Some(match s {
        "accept" => Action::Accept,
        "decline" => Action::Decline,
        "cancel" => Action::Cancel,
        "seen" | "mark-seen" => Action::MarkSeen,
        "results" => Action::ReturnResults,
        "refer-down" => Action::ReferDown,
        "close" => Action::Close,
        _ => return None,
    })
}

/// One step of the loop: accept, decline, cancel, seen, results, refer-down or close.
#[utoipa::path(post, path = "/api/v1/referrals/{id}/{action}", tag = "referral", request_body = StepInput,
    responses((status = 200, body = ReferralView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn referral_step(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    Json(input): Json<StepInput>,
) -> ApiResult<AxumJson<ReferralView>> {
    let action = parse_action(&action).ok_or_else(|| {
        crate::error::ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NoSuchEndpoint,
            "Unknown step; use accept, decline, cancel, seen, results, refer-down or close.",
        )
    })?;
    Ok(AxumJson(
        service::step(&state, &caller, &id, action, input).await?,
    ))
}

/// The duplicate-exam reminder: the patient's same exam at any consortium member within the window.
#[utoipa::path(get, path = "/api/v1/referrals/exam-history", tag = "referral", params(ExamHistoryQuery),
    responses((status = 200, body = [EarlierExamView]), (status = 400, body = ErrorBody)))]
pub async fn exam_history(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ExamHistoryQuery>,
) -> ApiResult<AxumJson<Vec<EarlierExamView>>> {
    Ok(AxumJson(service::exam_history(&state, &caller, q).await?))
}

#[utoipa::path(get, path = "/api/v1/practitioners/{id}/exam-privileges", tag = "referral",
    responses((status = 200, body = [String])))]
pub async fn list_privileges(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<String>>> {
    Ok(AxumJson(consortium::privileges(&state, &id).await?))
}

/// Grant a doctor an exam privilege (e.g. CT or MRI ordering): an admin of one of their sites.
#[utoipa::path(post, path = "/api/v1/practitioners/{id}/exam-privileges", tag = "referral", request_body = PrivilegeInput,
    responses((status = 200, body = [String]), (status = 404, body = ErrorBody)))]
pub async fn grant_privilege(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<PrivilegeInput>,
) -> ApiResult<AxumJson<Vec<String>>> {
    Ok(AxumJson(
        consortium::grant_privilege(&state, &caller, &id, input).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ExamSlotQuery {
    pub exam_type: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/organisations/{id}/exam-slots", tag = "referral", params(ExamSlotQuery),
    responses((status = 200, body = [ExamSlotView])))]
pub async fn list_exam_slots(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ExamSlotQuery>,
) -> ApiResult<AxumJson<Vec<ExamSlotView>>> {
    Ok(AxumJson(
        consortium::exam_slots(&state, &id, q.exam_type.as_deref()).await?,
    ))
}

/// Open an exam slot (capacity taken atomically when a referral is accepted).
#[utoipa::path(post, path = "/api/v1/organisations/{id}/exam-slots", tag = "referral", request_body = ExamSlotInput,
    responses((status = 201, body = ExamSlotView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_exam_slot(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ExamSlotInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(consortium::add_exam_slot(&state, &caller, &id, input).await?),
    ))
}

#[utoipa::path(post, path = "/api/v1/organisations/{id}/wards", tag = "referral", request_body = WardInput,
    responses((status = 201, body = WardView), (status = 400, body = ErrorBody)))]
pub async fn add_ward(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<WardInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(consortium::add_ward(&state, &caller, &id, input).await?),
    ))
}

/// Wards and free beds across the consortium.
#[utoipa::path(get, path = "/api/v1/consortia/{id}/wards", tag = "referral",
    responses((status = 200, body = [WardView]), (status = 404, body = ErrorBody)))]
pub async fn wards(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<WardView>>> {
    Ok(AxumJson(consortium::wards(&state, &caller, &id).await?))
}

/// Referrals by direction, state and member, turnaround times and overdue ones.
#[utoipa::path(get, path = "/api/v1/consortia/{id}/referral-dashboard", tag = "referral",
    responses((status = 200, body = Dashboard), (status = 404, body = ErrorBody)))]
pub async fn dashboard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Dashboard>> {
    Ok(AxumJson(consortium::dashboard(&state, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/bed-requests", tag = "referral",
    responses((status = 200, body = [BedRequestView])))]
pub async fn bed_requests(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<BedRequestView>>> {
    Ok(AxumJson(consortium::bed_requests(&state, &caller).await?))
}

/// A member's doctor asks a ward of the upper hospital to admit a patient.
#[utoipa::path(post, path = "/api/v1/bed-requests", tag = "referral", request_body = BedRequestInput,
    responses((status = 201, body = BedRequestView), (status = 400, body = ErrorBody)))]
pub async fn request_bed(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<BedRequestInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(consortium::request_bed(&state, &caller, input).await?),
    ))
}

/// The ward reviews: admit (takes a free bed or answers ref_no_free_beds), decline, or discharge.
#[utoipa::path(post, path = "/api/v1/bed-requests/{id}/{action}", tag = "referral", request_body = BedReviewInput,
    responses((status = 200, body = BedRequestView), (status = 409, body = ErrorBody)))]
pub async fn review_bed(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    Json(input): Json<BedReviewInput>,
) -> ApiResult<AxumJson<BedRequestView>> {
    let action = match action.as_str() {
        "admit" => BedAction::Admit,
        "decline" => BedAction::Decline,
        "discharge" => BedAction::Discharge,
        _ => {
            return Err(crate::error::ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorCode::NoSuchEndpoint,
                "Unknown step; use admit, decline or discharge.",
            ));
        }
    };
    Ok(AxumJson(
        consortium::review_bed(&state, &caller, &id, action, input).await?,
    ))
}

#[utoipa::path(get, path = "/api/v1/remote-consultations", tag = "referral",
    responses((status = 200, body = [RemoteConsultView])))]
pub async fn remote_consults(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<RemoteConsultView>>> {
    Ok(AxumJson(
        consortium::remote_consults(&state, &caller).await?,
    ))
}

/// Ask an expert of a consortium member for a written opinion (远程会诊), with records and imaging studies.
#[utoipa::path(post, path = "/api/v1/remote-consultations", tag = "referral", request_body = RemoteConsultInput,
    responses((status = 201, body = RemoteConsultView), (status = 400, body = ErrorBody)))]
pub async fn ask_expert(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<RemoteConsultInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(consortium::ask_expert(&state, &caller, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/remote-consultations/{id}", tag = "referral",
    responses((status = 200, body = RemoteConsultView), (status = 404, body = ErrorBody)))]
pub async fn remote_consult(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<RemoteConsultView>> {
    Ok(AxumJson(
        consortium::remote_consult(&state, &caller, &id).await?,
    ))
}

/// The expert answers in writing.
#[utoipa::path(post, path = "/api/v1/remote-consultations/{id}/answer", tag = "referral", request_body = OpinionInput,
    responses((status = 200, body = RemoteConsultView), (status = 409, body = ErrorBody)))]
pub async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<OpinionInput>,
) -> ApiResult<AxumJson<RemoteConsultView>> {
    Ok(AxumJson(
        consortium::answer(&state, &caller, &id, input).await?,
    ))
}

#[cfg(test)]
mod tests {
    use crate::settings::Settings;

    #[test]
    fn deadlines_and_duplicate_windows_come_from_the_settings_file() {
        let s: Settings = toml::from_str(
            "[referral.deadlines]\nrequested_hours = 24\n\n[referral.duplicate_windows]\nct_days = 90\n",
        )
        .unwrap();
        assert_eq!(s.referral.deadlines.requested_hours, 24);
        assert_eq!(
            s.referral.deadlines.seen_hours, 72,
            "others keep their defaults"
        );
        assert_eq!(s.referral.duplicate_windows.ct_days, 90);
        assert_eq!(s.referral.duplicate_windows.mri_days, 30);
        assert!(toml::from_str::<Settings>("[referral.deadlines]\nrequested_hour = 1\n").is_err());
    }
}
