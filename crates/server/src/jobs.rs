//! Every background job of a server, started from one place. Each job is a
//! file of its capability with `run_once` (what tests call) and a loop;
//! here they are started with the server and stopped with it.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::state::AppState;
use crate::{consultation, followup, payment, referral, scheduling};

/// The running jobs; dropping them stops them.
pub struct Jobs(Vec<JoinHandle<()>>);

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.0 {
            job.abort();
        }
    }
}

/// Which jobs run besides the always-on ones.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extra {
    /// Slots up to the horizon, reminders and queue notices, this often.
    /// `ihos serve` runs it once a minute; test servers call `run_once`
    /// themselves so a test sees exactly the passes it asked for.
    pub scheduling_every: Option<Duration>,
}

pub fn start(state: &AppState, extra: Extra) -> Jobs {
    let mut jobs = vec![
        consultation::expire_job::spawn(state.clone()),
        payment::timeout_job::spawn(state.clone()),
        referral::overdue_job::spawn(state.clone()),
        followup::jobs::spawn(state.clone()),
    ];
    if let Some(every) = extra.scheduling_every {
        jobs.push(tokio::spawn(scheduling::jobs::run(state.clone(), every)));
    }
    Jobs(jobs)
}
