//! The booking machinery of one server: the admission gate, and on SQLite
//! the booking lane or on PostgreSQL the group-commit batcher. Built at
//! assembly and kept in the state's parts.

use std::sync::Arc;

use ihos_store::{Backend, Store};

use super::batch::Batcher;
use super::gate::Gate;
use super::lane::Lane;
use crate::state::AppState;

pub struct Booking {
    /// In-process admission gate (a hint; the database decides).
    pub gate: Gate,
    /// On SQLite, the thread booking transactions run on.
    pub lane: Option<Arc<Lane>>,
    /// On PostgreSQL, group commit for bookings.
    pub batch: Option<Arc<Batcher>>,
}

impl Booking {
    pub fn start(store: &Store, daily_limit: u32) -> std::io::Result<Booking> {
        let (lane, batch) = match store.backend() {
            Backend::Sqlite => (Some(Arc::new(Lane::start()?)), None),
            Backend::Postgres => {
                let batcher = Batcher::start(store.clone(), i64::from(daily_limit));
                (None, Some(Arc::new(batcher)))
            }
        };
        Ok(Booking {
            gate: Gate::default(),
            lane,
            batch,
        })
    }

    /// The booking writers give their connections back when shutdown starts.
    pub fn shutdown(&self) {
        if let Some(batch) = &self.batch {
            batch.shutdown();
        }
    }
}

/// This server's booking machinery.
pub fn booking(state: &AppState) -> &Booking {
    state.part::<Booking>()
}
