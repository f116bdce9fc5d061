//! Schedules, slots, appointments and the notification outbox rows they write.
//! Seats are taken with a conditional UPDATE; one patient's bookings per day
//! with a conditional upsert; the unique (patient_id, active_start) backs both.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::audit::AuditEntry;
use crate::{Backend, Store, StoreError, StoreResult, classify, new_id};

mod appointments;
mod booking;
mod inbox;
mod search;
mod slots;
mod templates;
pub use appointments::*;
pub use booking::*;
pub use inbox::*;
pub use search::*;
pub use slots::*;
pub use templates::*;
