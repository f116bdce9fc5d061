//! The pure domain of ihos: parsed values, rules and state machines. No IO.

pub mod access;
pub mod consultation;
mod error;
mod error_code;
pub mod followup;
pub mod identity;
pub mod imaging;
pub mod nursing;
pub mod org;
pub mod payment;
pub mod pharmacy;
pub mod referral;
pub mod scheduling;

pub use error::{DomainError, parse_date};
pub use error_code::ErrorCode;
pub use identity::{LicenceNumber, Password, PhoneNumber, RealName, ResidentId, Role, Title};
pub use org::{OrgKind, Specialty};
