//! Exam slots a hospital opens to the consortium.

use super::*;

// ---------- exam slots ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExamSlotInput {
    pub exam_type: String,
    /// Local (Asia/Shanghai) date, YYYY-MM-DD.
    pub date: String,
    /// Local start time, HH:MM.
    pub start: String,
    pub minutes: Option<i64>,
    pub capacity: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamSlotView {
    pub id: String,
    pub exam_type: String,
    pub starts_at: i64,
    pub time_local: String,
    pub capacity: i64,
    pub remaining: i64,
}

pub(super) fn slot_view(s: &store::ExamSlotRow) -> ExamSlotView {
    ExamSlotView {
        id: s.id.clone(),
        exam_type: s.exam_type.clone(),
        starts_at: s.starts_at,
        time_local: shanghai_time(s.starts_at),
        capacity: s.capacity,
        remaining: s.remaining,
    }
}

pub fn local_ms(date: &str, time: &str) -> Result<i64, DomainError> {
    let d = parse_date(date, "date")?;
    let t = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| {
        DomainError::new(ErrorCode::RefInvalidTime, "Enter the time as HH:MM.").on("start")
    })?;
    Shanghai
        .from_local_datetime(&d.and_time(t))
        .single()
        .map(|x| x.timestamp_millis())
        .ok_or_else(|| {
            DomainError::new(ErrorCode::RefInvalidTime, "That local time does not exist.")
                .on("start")
        })
}

pub async fn add_exam_slot(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: ExamSlotInput,
) -> ApiResult<ExamSlotView> {
    require_admin(caller, org_id)?;
    let exam = ExamType::parse(input.exam_type.trim()).map_err(ApiError::from)?;
    let starts = local_ms(&input.date, &input.start).map_err(ApiError::from)?;
    let now = now_ms();
    if starts <= now {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RefInvalidTime,
                "An exam slot starts in the future.",
            )
            .on("date"),
        ));
    }
    if !(1..=200).contains(&input.capacity) {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RefInvalidCapacity,
                "Capacity is 1 to 200 patients.",
            )
            .on("capacity"),
        ));
    }
    let minutes = input.minutes.unwrap_or(30).clamp(5, 480);
    let mut c = state.store.conn().await?;
    if org::org(&mut c, org_id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    let id = store::insert_exam_slot(
        &mut c,
        org_id,
        exam.as_str(),
        starts,
        starts + minutes * 60_000,
        input.capacity,
        &caller.account_id,
        now,
    )
    .await
    .map_err(|e| match e {
        ihos_store::StoreError::Duplicate { .. } => ApiError::conflict(
            ErrorCode::RefExamSlotExists,
            "There is already a slot for this exam at this time.",
        ),
        other => other.into(),
    })?;
    let s = store::exam_slot(&mut c, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(slot_view(&s))
}

pub async fn exam_slots(
    state: &AppState,
    org_id: &str,
    exam_type: Option<&str>,
) -> ApiResult<Vec<ExamSlotView>> {
    let mut c = state.store.conn().await?;
    Ok(store::open_exam_slots(&mut c, org_id, exam_type, now_ms())
        .await?
        .iter()
        .map(slot_view)
        .collect())
}
