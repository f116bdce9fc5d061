//! Payment for a whole visit ("pay at most once", 最多付一次): one order per
//! visit gathers every charge; each item splits into the medical-insurance
//! share and the self-paid share, exactly, in integer fen.
//!
//! Rounding: the insurance share of an item is `amount × ratio / 1000`
//! rounded DOWN to the fen; the self-paid share is the rest. So the two
//! shares always add up to the item amount exactly, and a fraction of a fen
//! is never charged to the insurer. Totals are plain sums of item shares.
//!
//! Error codes are stable and prefixed `pay_`.

use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

/// Largest amount of one item or order, in fen (¥10,000,000).
pub const MAX_FEN: i64 = 1_000_000_000;

/// What an order item is for. Other capabilities add their kinds here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    ConsultationFee,
    Drug,
    Delivery,
    NursingService,
}

impl ItemKind {
    pub const ALL: [ItemKind; 4] = [
        ItemKind::ConsultationFee,
        ItemKind::Drug,
        ItemKind::Delivery,
        ItemKind::NursingService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::ConsultationFee => "consultation_fee",
            ItemKind::Drug => "drug",
            ItemKind::Delivery => "delivery",
            ItemKind::NursingService => "nursing_service",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::PayInvalidItem,
                    format!("Unknown item kind '{s}'."),
                )
            })
    }
}

/// What a payment order pays for: one visit of one kind. Payment knows the
/// kinds, not the capabilities behind them; what happens to a visit when its
/// order is paid or cancelled is up to hooks registered at assembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitKind {
    /// An online consultation with its prescriptions and delivery.
    Consultation,
    /// A home-nursing order.
    Nursing,
}

impl VisitKind {
    pub const ALL: [VisitKind; 2] = [VisitKind::Consultation, VisitKind::Nursing];

    pub fn as_str(self) -> &'static str {
        match self {
            VisitKind::Consultation => "consultation",
            VisitKind::Nursing => "nursing",
        }
    }

    /// The kind stored with an order; `None` for a kind this build does not know.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An amount split between the insurer and the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Split {
    pub amount_fen: i64,
    pub insured_fen: i64,
    pub self_fen: i64,
}

impl std::ops::Add for Split {
    type Output = Split;
    fn add(self, o: Split) -> Split {
        Split {
            amount_fen: self.amount_fen + o.amount_fen,
            insured_fen: self.insured_fen + o.insured_fen,
            self_fen: self.self_fen + o.self_fen,
        }
    }
}

/// The amount of `quantity` units at `unit_price_fen`, split by
/// `reimburse_permille` (see the module doc for rounding).
pub fn split_item(
    unit_price_fen: i64,
    quantity: i64,
    reimburse_permille: i64,
) -> Result<Split, DomainError> {
    let bad = |m: &str| DomainError::new(ErrorCode::PayInvalidAmount, m.to_string());
    if !(0..=MAX_FEN).contains(&unit_price_fen) {
        return Err(bad("A price is a whole number of fen, 0 or more."));
    }
    if !(1..=10_000).contains(&quantity) {
        return Err(bad("A quantity is 1 to 10000."));
    }
    if !(0..=1000).contains(&reimburse_permille) {
        return Err(bad("A reimbursement ratio is 0 to 1000 per mille."));
    }
    let amount = unit_price_fen
        .checked_mul(quantity)
        .filter(|a| *a <= MAX_FEN)
        .ok_or_else(|| bad("The amount is too large."))?;
    // amount ≤ 1e9 and ratio ≤ 1000: the product fits in i64.
    let insured = amount * reimburse_permille / 1000;
    Ok(Split {
        amount_fen: amount,
        insured_fen: insured,
        self_fen: amount - insured,
    })
}

/// Sum of item splits.
pub fn total<'a>(items: impl IntoIterator<Item = &'a Split>) -> Split {
    items.into_iter().fold(Split::default(), |a, b| a + *b)
}

/// `¥12.34` for 1234 fen.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let f = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", f / 100, f % 100)
}

/// Where an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Gathering items and waiting for payment.
    Open,
    /// A payment was started with the provider; waiting for its callback.
    Paying,
    Paid,
    /// Not paid in time (a job closes it).
    Closed,
    /// Cancelled before payment.
    Cancelled,
    /// Paid, then refunded in full.
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Open,
        OrderStatus::Paying,
        OrderStatus::Paid,
        OrderStatus::Closed,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Paying => "paying",
            OrderStatus::Paid => "paid",
            OrderStatus::Closed => "closed",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::PayInvalidStatus,
                    format!("Unknown status '{s}'."),
                )
            })
    }

    /// Items may be added only before payment starts.
    pub fn accepts_items(self) -> bool {
        matches!(self, OrderStatus::Open | OrderStatus::Closed)
    }
}

/// Items may be added to an order only before anyone pays it ("pay at most once").
pub fn check_extendable(status: OrderStatus) -> Result<(), DomainError> {
    if status.accepts_items() {
        Ok(())
    } else {
        Err(DomainError::new(
            ErrorCode::PayOrderLocked,
            format!(
                "The visit's order is {}; nothing can be added to it now.",
                status.as_str()
            ),
        ))
    }
}

/// Whether payment may start now.
pub fn check_payable(status: OrderStatus, amount_fen: i64) -> Result<(), DomainError> {
    match status {
        OrderStatus::Open if amount_fen > 0 => Ok(()),
        OrderStatus::Open => Err(DomainError::new(
            ErrorCode::PayNothingToPay,
            "This order has nothing to pay yet.",
        )),
        OrderStatus::Paying => Err(DomainError::new(
            ErrorCode::PayInProgress,
            "A payment for this order is already in progress; wait for its result.",
        )),
        OrderStatus::Paid | OrderStatus::Refunded => Err(DomainError::new(
            ErrorCode::PayAlreadyPaid,
            "This visit is already paid: a visit is paid at most once.",
        )),
        OrderStatus::Closed | OrderStatus::Cancelled => Err(DomainError::new(
            ErrorCode::PayOrderClosed,
            "This order was closed; reopen it from the visit to pay.",
        )),
    }
}

/// What a provider's callback reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackOutcome {
    Succeeded,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visit_kinds_read_back_what_they_write() {
        for k in VisitKind::ALL {
            assert_eq!(VisitKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(VisitKind::parse("video"), None);
    }

    #[test]
    fn shares_add_up_to_the_amount_and_the_insurer_never_gets_a_fraction() {
        // 14 × 0.18 = 2.52; 80% = 2.016 → insurer 2.01, patient 0.51
        let s = split_item(18, 14, 800).unwrap();
        assert_eq!(
            s,
            Split {
                amount_fen: 252,
                insured_fen: 201,
                self_fen: 51
            }
        );
        // 7 × 0.45 at 100%
        assert_eq!(split_item(45, 7, 1000).unwrap().self_fen, 0);
        // self-paid
        assert_eq!(split_item(380, 3, 0).unwrap().insured_fen, 0);
        for price in 1..200 {
            for ratio in [0, 1, 333, 700, 799, 800, 999, 1000] {
                let s = split_item(price, 3, ratio).unwrap();
                assert_eq!(s.insured_fen + s.self_fen, s.amount_fen);
                assert!(s.insured_fen * 1000 <= s.amount_fen * ratio);
                assert!((s.insured_fen + 1) * 1000 > s.amount_fen * ratio);
            }
        }
    }

    #[test]
    fn bad_amounts_are_refused() {
        assert!(split_item(-1, 1, 0).is_err());
        assert!(split_item(1, 0, 0).is_err());
        assert!(split_item(1, 1, 1001).is_err());
        assert!(split_item(MAX_FEN, 2, 0).is_err());
    }

    #[test]
    fn totals_are_sums_of_shares() {
        let items = [
            split_item(2000, 1, 0).unwrap(),
            split_item(18, 14, 800).unwrap(),
            split_item(45, 60, 1000).unwrap(),
        ];
        let t = total(&items);
        assert_eq!(t.amount_fen, 2000 + 252 + 2700);
        assert_eq!(t.insured_fen, 201 + 2700);
        assert_eq!(t.self_fen, 2000 + 51);
    }

    #[test]
    fn yuan_shows_two_decimals() {
        assert_eq!(yuan(1234), "¥12.34");
        assert_eq!(yuan(5), "¥0.05");
        assert_eq!(yuan(0), "¥0.00");
        assert_eq!(yuan(-250), "-¥2.50");
    }

    #[test]
    fn a_visit_is_paid_at_most_once() {
        assert!(check_payable(OrderStatus::Open, 100).is_ok());
        assert_eq!(
            check_payable(OrderStatus::Paid, 100).unwrap_err().code,
            "pay_already_paid"
        );
        assert_eq!(
            check_payable(OrderStatus::Paying, 100).unwrap_err().code,
            "pay_in_progress"
        );
        assert!(check_payable(OrderStatus::Open, 0).is_err());
        assert!(check_extendable(OrderStatus::Open).is_ok());
        assert_eq!(
            check_extendable(OrderStatus::Paid).unwrap_err().code,
            "pay_order_locked"
        );
        assert!(check_extendable(OrderStatus::Paying).is_err());
    }
}
