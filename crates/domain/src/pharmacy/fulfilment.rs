//! Fulfilment: pickup, delivery, transfer and dispensing once.

use super::*;

/// How the patient gets the drugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Hospital pharmacy window, with a pickup code.
    Pickup,
    /// Delivered by the hospital.
    HospitalDelivery,
    /// Delivered by a third-party courier.
    Courier,
    /// Transferred to a nearby pharmacy, which dispenses with a verification code.
    PharmacyTransfer,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Pickup,
        Method::HospitalDelivery,
        Method::Courier,
        Method::PharmacyTransfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pickup => "pickup",
            Method::HospitalDelivery => "hospital_delivery",
            Method::Courier => "courier",
            Method::PharmacyTransfer => "pharmacy_transfer",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::RxInvalidMethod,
                    "Choose pickup, hospital_delivery, courier or pharmacy_transfer.",
                )
                .on("method")
            })
    }

    pub fn is_delivery(self) -> bool {
        matches!(self, Method::HospitalDelivery | Method::Courier)
    }
}

/// Where the drugs are. `AwaitingPayment` → `Ready` happens only when the
/// visit's order is paid; `Ready` → `Dispensed` exactly once (pickup,
/// pharmacy), or `Ready` → `Shipped` → `InTransit` → `Delivered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    AwaitingPayment,
    Ready,
    Dispensed,
    Shipped,
    InTransit,
    Delivered,
    Cancelled,
}

impl FulfilmentStatus {
    pub const ALL: [FulfilmentStatus; 7] = [
        FulfilmentStatus::AwaitingPayment,
        FulfilmentStatus::Ready,
        FulfilmentStatus::Dispensed,
        FulfilmentStatus::Shipped,
        FulfilmentStatus::InTransit,
        FulfilmentStatus::Delivered,
        FulfilmentStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FulfilmentStatus::AwaitingPayment => "awaiting_payment",
            FulfilmentStatus::Ready => "ready",
            FulfilmentStatus::Dispensed => "dispensed",
            FulfilmentStatus::Shipped => "shipped",
            FulfilmentStatus::InTransit => "in_transit",
            FulfilmentStatus::Delivered => "delivered",
            FulfilmentStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(ErrorCode::RxInvalidStatus, format!("Unknown status '{s}'."))
                    .on("status")
            })
    }

    /// The drugs left the pharmacy: no refund, no change of method.
    pub fn handed_over(self) -> bool {
        matches!(
            self,
            FulfilmentStatus::Dispensed
                | FulfilmentStatus::Shipped
                | FulfilmentStatus::InTransit
                | FulfilmentStatus::Delivered
        )
    }
}

/// The delivery tracking states, in order; each step only forward by one.
pub fn delivery_step(
    method: Method,
    from: FulfilmentStatus,
    to: FulfilmentStatus,
) -> Result<(), DomainError> {
    use FulfilmentStatus as F;
    if from == F::AwaitingPayment {
        return Err(DomainError::new(
            ErrorCode::RxNotPaid,
            "The order is not paid yet; nothing is shipped before payment.",
        ));
    }
    let ok = method.is_delivery()
        && matches!(
            (from, to),
            (F::Ready, F::Shipped) | (F::Shipped, F::InTransit) | (F::InTransit, F::Delivered)
        );
    if ok {
        Ok(())
    } else {
        Err(DomainError::new(
            ErrorCode::RxWrongState,
            format!(
                "A {} fulfilment cannot go from {} to {}.",
                method.as_str(),
                from.as_str(),
                to.as_str()
            ),
        )
        .on("status"))
    }
}

/// Dispensing at a window or pharmacy: only a paid, not yet handed-over
/// fulfilment of the right method.
pub fn check_dispensable(method: Method, status: FulfilmentStatus) -> Result<(), DomainError> {
    match status {
        FulfilmentStatus::Ready if matches!(method, Method::Pickup | Method::PharmacyTransfer) => {
            Ok(())
        }
        FulfilmentStatus::AwaitingPayment => Err(DomainError::new(
            ErrorCode::RxNotPaid,
            "The order is not paid yet; nothing is dispensed before payment.",
        )),
        s if s.handed_over() => Err(DomainError::new(
            ErrorCode::RxAlreadyDispensed,
            "These drugs were already dispensed or shipped.",
        )),
        _ => Err(DomainError::new(
            ErrorCode::RxWrongState,
            "This prescription is not for dispensing here.",
        )),
    }
}
