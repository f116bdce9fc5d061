//! Web pages for online consultation: the patient's and doctor's chat.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}

/// (key, 中文, English): UI text and the consultation error codes.
pub const TEXT: &[(&str, &str, &str)] = &[
    (
        "first_visit_not_allowed",
        "线上问诊仅限复诊：请先在线下确诊，并上传门诊病历或出院小结，或选择平台上的既往就诊记录。",
        "Online consultation is for follow-up visits only: attach an earlier visit or upload an outpatient or discharge record.",
    ),
    (
        "guardian_must_be_present",
        "6岁以下儿童须由登记的监护人陪同问诊：请由监护人发起并确认在场。",
        "Children under 6 consult only with their registered guardian present.",
    ),
    (
        "doctor_not_eligible_online",
        "该医生独立执业不满3年，不能提供线上问诊，请选择其他医生。",
        "This doctor has fewer than 3 years of independent practice and may not consult online.",
    ),
    (
        "illegal_transition",
        "当前状态下不能进行此操作。",
        "This is not possible in the consultation's current state.",
    ),
    (
        "consultation_closed",
        "本次问诊已结束。",
        "This consultation has ended.",
    ),
    (
        "chat_closed",
        "医生接诊后才能发送消息，问诊结束后不能再发送。",
        "Messages can be sent once the doctor has accepted and until the consultation ends.",
    ),
    (
        "emergency_call_120",
        "您描述的症状可能危及生命，请立即拨打120或前往急诊。",
        "These symptoms may be life-threatening: call 120 or go to an emergency department now.",
    ),
    (
        "already_reviewed",
        "您已评价过本次问诊。",
        "You have already reviewed this consultation.",
    ),
    (
        "package_exhausted",
        "服务包次数已用完或已过期。",
        "This service package has no consultations left or has ended.",
    ),
];
