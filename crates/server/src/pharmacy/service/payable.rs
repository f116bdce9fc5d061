//! Pharmacy's reactions to the visit's payment (called by its order hook).

use super::*;

// ------------------------------------------------------------------ payment hooks

/// Refuses payment of a consultation visit while one of its prescriptions
/// waits for review: the visit is paid once, with everything on it.
pub async fn check_visit_payable(conn: &mut AnyConnection, order: &OrderRow) -> ApiResult<()> {
    if super::super::payment_hook::is_consultation(order)
        && rxstore::pending_in_consultation(conn, &order.visit_id).await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxReviewPending,
            "A prescription of this visit is waiting for the pharmacist's review; pay after the review so the visit is paid once.",
        ));
    }
    Ok(())
}

pub(super) const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A pickup or verification code: 10 characters, no look-alikes.
pub(super) fn new_code() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..10)
        .map(|_| CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// In the transaction that marks the order paid: its fulfilments become
/// ready (with a code for pickup and pharmacy transfer).
pub async fn on_order_paid(conn: &mut AnyConnection, order: &OrderRow, now: i64) -> ApiResult<()> {
    let patient = identity::patient(conn, &order.patient_id).await?;
    for f in rxstore::fulfilments_of_order(conn, &order.id).await? {
        if f.status != FulfilmentStatus::AwaitingPayment.as_str() {
            continue;
        }
        let method = Method::parse(&f.method)?;
        let code = (!method.is_delivery()).then(new_code);
        if rxstore::mark_ready(conn, &f.prescription_id, code.as_deref(), now).await? {
            ihos_store::outbox::put(
                conn,
                "rx.ready",
                patient.as_ref().and_then(patient_recipient).as_deref(),
                &json!({"prescription_id": f.prescription_id, "method": f.method}),
                now,
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn on_order_cancelled(
    conn: &mut AnyConnection,
    order: &OrderRow,
    now: i64,
) -> ApiResult<()> {
    rxstore::cancel_for_order(conn, &order.id, now).await?;
    Ok(())
}

/// Whether any drug of the order left the pharmacy.
pub async fn handed_over(conn: &mut AnyConnection, order_id: &str) -> ApiResult<bool> {
    Ok(rxstore::fulfilments_of_order(conn, order_id)
        .await?
        .iter()
        .any(|f| FulfilmentStatus::parse(&f.status).is_ok_and(|s| s.handed_over())))
}
