//! The booking lane: on SQLite, booking transactions run on a thread of
//! their own. They are serialised anyway (one writer), and as tasks among
//! thousands of quick rush requests each of their ~8 statements waited for
//! its turn on the shared runtime: the 200 winners of a rush took most of
//! its time. On their own thread the next statement starts as soon as the
//! last one answers.

use std::future::Future;

use tokio::sync::oneshot;

pub struct Lane {
    handle: tokio::runtime::Handle,
    _stop: oneshot::Sender<()>,
}

impl Lane {
    /// A single-threaded runtime on a named thread; it ends when the lane is dropped.
    pub fn start() -> std::io::Result<Lane> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("ihos-booking".into())
            .spawn(move || {
                rt.block_on(async {
                    let _ = stopped.await;
                });
            })?;
        Ok(Lane {
            handle,
            _stop: stop,
        })
    }

    /// Run `work` on the lane and wait for its answer; `None` if it panicked
    /// or the lane is shutting down.
    pub async fn run<F>(&self, work: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(work).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_lane_thread_and_answers() {
        let lane = Lane::start().unwrap();
        let name = lane
            .run(async { std::thread::current().name().map(str::to_string) })
            .await;
        assert_eq!(name, Some(Some("ihos-booking".to_string())));
        assert_eq!(lane.run(async { panic!("boom") }).await, None::<()>);
    }
}
