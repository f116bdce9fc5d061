//! The patient's review after a visit and the doctor's reply.

use super::*;

/// The patient served (or their guardian) rates a finished consultation, once.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReviewInput,
) -> ApiResult<ReviewView> {
    let mut tx = state.store.begin().await?;
    let row = cstore::consultation(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let served = side_of(&row, caller) == Some(Side::Patient);
    rules::check_review(served, Status::parse(&row.status)?).map_err(|e| {
        let mut err = ApiError::from(e);
        if err.code == ErrorCode::ReviewNotOpen {
            err.status = StatusCode::CONFLICT;
        }
        err
    })?;
    let rating = rules::parse_rating(input.rating)?;
    let body = match input.text.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => Some(parse_text(t, "text", 1000)?),
        _ => None,
    };
    let r = ReviewRow {
        consultation_id: row.id.clone(),
        doctor_id: row.doctor_id.clone(),
        author_id: caller.account_id.clone(),
        rating,
        body,
        reply: None,
        replied_at: None,
        created_at: now_ms(),
    };
    cstore::insert_review(&mut tx, &r)
        .await
        .map_err(|e| match e {
            StoreError::Duplicate { .. } => ApiError::conflict(
                ErrorCode::AlreadyReviewed,
                "You have already reviewed this consultation.",
            ),
            other => other.into(),
        })?;
    ihos_store::events::record(
        &mut tx,
        &ihos_store::events::NewEvent {
            kind: ihos_store::events::REVIEW,
            org_id: &row.org_id,
            department_id: row.department_id.as_deref(),
            practitioner_id: Some(&row.doctor_id),
            rating: Some(rating),
        },
    )
    .await?;
    ihos_store::outbox::put(
        &mut tx,
        "consultation.reviewed",
        Some(&row.doctor_id),
        &json!({"consultation_id": row.id, "rating": rating}),
        r.created_at,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(review_view(r))
}

/// The doctor answers a review once.
pub async fn reply(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReplyInput,
) -> ApiResult<ReviewView> {
    let text = parse_text(&input.reply, "reply", 1000)?;
    let mut conn = state.store.conn().await?;
    let (_, side) = load_for(&mut conn, caller, id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden("Only the doctor reviewed replies."));
    }
    if !cstore::reply_review(&mut conn, id, &caller.account_id, &text, now_ms()).await? {
        return Err(ApiError::conflict(
            ErrorCode::ReplyNotPossible,
            "There is no review to answer yet, or you have answered it already.",
        ));
    }
    let r = cstore::review(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(review_view(r))
}

/// A doctor's public reviews (no patient names) and mean rating.
pub async fn doctor_reviews(state: &AppState, doctor_id: &str) -> ApiResult<DoctorReviews> {
    let mut conn = state.store.conn().await?;
    let rows = cstore::reviews_of_doctor(&mut conn, doctor_id, 200).await?;
    let count = rows.len();
    let average = (count > 0).then(|| {
        let sum: i64 = rows.iter().map(|r| r.rating).sum();
        ((sum as f64 / count as f64) * 10.0).round() / 10.0
    });
    Ok(DoctorReviews {
        doctor_id: doctor_id.to_string(),
        count,
        average,
        reviews: rows.into_iter().map(review_view).collect(),
    })
}
