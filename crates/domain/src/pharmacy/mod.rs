//! E-prescriptions: the drug catalogue, the rules a prescription must pass
//! before it is signed (no specially controlled drugs online, no duplicates,
//! recorded allergies, days' supply, weight for young children), the review
//! state machine and the fulfilment choices.
//!
//! Error codes are stable and prefixed `rx_`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

mod catalogue;
mod fulfilment;
mod prescription;
pub use catalogue::*;
pub use fulfilment::*;
pub use prescription::*;

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "# test\n\
        D1,阿莫西林胶囊,胶囊剂,0.25g,粒,18,甲,1000,none,青霉素类\n\
        D2,二甲双胍缓释片,片剂,0.5g,片,45,甲,1000,none,\n\
        D3,盐酸吗啡缓释片,片剂,30mg,片,420,甲,1000,narcotic,\n\
        D4,艾司唑仑片,片剂,1mg,片,10,甲,1000,psychotropic_2,\n\
        D5,复方甘草片,片剂,复方,片,5,甲,1000,precursor,\n\
        D6,维生素C片,片剂,0.1g,片,3,丙,0,none,\n";

    fn cat() -> Catalogue {
        Catalogue::parse(CSV).unwrap()
    }

    fn item(code: &str, days: u32) -> ItemInput {
        ItemInput {
            drug_code: code.into(),
            quantity: 14,
            dosage: "0.5g".into(),
            frequency: "每日2次".into(),
            days,
        }
    }

    fn adult() -> PatientFacts {
        PatientFacts {
            age_years: 40,
            ..Default::default()
        }
    }

    #[test]
    fn the_repository_catalogue_loads() {
        let c = Catalogue::parse(include_str!("../../../server/data/drugs.csv")).unwrap();
        assert!(c.len() >= 60, "{}", c.len());
        assert!(c.all().iter().any(|d| !d.control.allowed_online()));
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let e = Catalogue::parse("D1,甲药,片剂,1mg,片,abc,甲,1000,none,\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("price_fen"), "{e}");
        let e = Catalogue::parse("# c\nD1,甲药,片剂,1mg,片,10,丙,500,none,\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Catalogue::parse("D1,甲药,片剂,1mg,片,10,甲,1000,opium,\n").unwrap_err();
        assert!(e.message.contains("opium"));
        let e = Catalogue::parse("D1,a,b,c,d,1,甲,1000,none,\nD1,a,b,c,d,1,甲,1000,none,\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("duplicate"));
        assert!(Catalogue::parse("D1,a,b,c\n").is_err());
        assert!(Catalogue::parse("# nothing\n").is_err());
    }

    #[test]
    fn controlled_drugs_are_refused_online() {
        let c = cat();
        for code in ["D3", "D4", "D5"] {
            let e = check_prescription(
                &c,
                RxKind::Acute,
                &[item(code, 3)],
                &adult(),
                &Limits::default(),
            )
            .unwrap_err();
            assert_eq!(e.code, "rx_controlled_drug", "{code}");
            assert!(e.message.contains("never prescribed online"));
        }
        assert!(c.orderable("D2").is_ok());
    }

    #[test]
    fn a_drug_twice_is_refused() {
        let e = check_prescription(
            &cat(),
            RxKind::Acute,
            &[item("D2", 3), item("D2", 5)],
            &adult(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "rx_duplicate_drug");
    }

    #[test]
    fn a_recorded_allergy_to_the_drug_or_its_class_is_refused() {
        let mut p = adult();
        p.allergies = vec!["青霉素类".into()];
        let e = check_prescription(
            &cat(),
            RxKind::Acute,
            &[item("D1", 3)],
            &p,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "rx_allergy");
        p.allergies = vec!["阿莫西林".into()];
        assert!(
            check_prescription(
                &cat(),
                RxKind::Acute,
                &[item("D1", 3)],
                &p,
                &Limits::default()
            )
            .is_err()
        );
        // An unrelated allergy does not block.
        p.allergies = vec!["磺胺类".into()];
        assert!(
            check_prescription(
                &cat(),
                RxKind::Acute,
                &[item("D1", 3)],
                &p,
                &Limits::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn days_supply_depends_on_the_kind() {
        let l = Limits::default();
        let e =
            check_prescription(&cat(), RxKind::Acute, &[item("D2", 8)], &adult(), &l).unwrap_err();
        assert_eq!(e.code, "rx_days_exceeded");
        assert!(check_prescription(&cat(), RxKind::Acute, &[item("D2", 7)], &adult(), &l).is_ok());
        assert!(
            check_prescription(&cat(), RxKind::Chronic, &[item("D2", 84)], &adult(), &l).is_ok()
        );
        let e = check_prescription(&cat(), RxKind::Chronic, &[item("D2", 85)], &adult(), &l)
            .unwrap_err();
        assert_eq!(e.code, "rx_days_exceeded");
        let e = check_prescription(&cat(), RxKind::Chronic, &[item("D2", 0)], &adult(), &l)
            .unwrap_err();
        assert_eq!(e.code, "rx_days_exceeded");
    }

    #[test]
    fn a_child_under_six_needs_a_weight() {
        let mut p = PatientFacts {
            age_years: 4,
            ..Default::default()
        };
        let l = Limits::default();
        let e = check_prescription(&cat(), RxKind::Acute, &[item("D1", 3)], &p, &l).unwrap_err();
        assert_eq!(e.code, "rx_weight_required");
        p.weight_g = Some(16_500);
        assert!(check_prescription(&cat(), RxKind::Acute, &[item("D1", 3)], &p, &l).is_ok());
        p.age_years = 6;
        p.weight_g = None;
        assert!(check_prescription(&cat(), RxKind::Acute, &[item("D1", 3)], &p, &l).is_ok());
    }

    #[test]
    fn too_many_or_no_items_are_refused() {
        let l = Limits {
            max_items: 1,
            ..Limits::default()
        };
        let e = check_prescription(
            &cat(),
            RxKind::Acute,
            &[item("D1", 3), item("D2", 3)],
            &adult(),
            &l,
        )
        .unwrap_err();
        assert_eq!(e.code, "rx_too_many_items");
        let e = check_prescription(&cat(), RxKind::Acute, &[], &adult(), &l).unwrap_err();
        assert_eq!(e.code, "rx_empty");
    }

    #[test]
    fn the_review_state_machine() {
        use RxAction as A;
        use RxStatus as S;
        assert_eq!(rx_transition(S::PendingReview, A::Approve), Ok(S::Approved));
        assert_eq!(rx_transition(S::PendingReview, A::Reject), Ok(S::Rejected));
        assert_eq!(rx_transition(S::Rejected, A::Revise), Ok(S::Superseded));
        assert!(rx_transition(S::Approved, A::Reject).is_err());
        assert!(rx_transition(S::Approved, A::Revise).is_err());
        assert!(rx_transition(S::Superseded, A::Approve).is_err());
        assert!(check_releasable(S::PendingReview).is_err());
        assert!(check_releasable(S::Rejected).is_err());
        assert!(check_releasable(S::Approved).is_ok());
    }

    #[test]
    fn dispensing_and_delivery_follow_payment() {
        use FulfilmentStatus as F;
        assert_eq!(
            check_dispensable(Method::Pickup, F::AwaitingPayment)
                .unwrap_err()
                .code,
            "rx_not_paid"
        );
        assert!(check_dispensable(Method::PharmacyTransfer, F::Ready).is_ok());
        assert_eq!(
            check_dispensable(Method::PharmacyTransfer, F::Dispensed)
                .unwrap_err()
                .code,
            "rx_already_dispensed"
        );
        assert!(check_dispensable(Method::Courier, F::Ready).is_err());
        assert!(delivery_step(Method::Courier, F::Ready, F::Shipped).is_ok());
        assert!(delivery_step(Method::Courier, F::Ready, F::Delivered).is_err());
        assert!(delivery_step(Method::Pickup, F::Ready, F::Shipped).is_err());
        assert_eq!(
            delivery_step(Method::Courier, F::AwaitingPayment, F::Shipped)
                .unwrap_err()
                .code,
            "rx_not_paid"
        );
    }
}
