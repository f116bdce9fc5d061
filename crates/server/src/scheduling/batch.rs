//! Group commit for bookings on PostgreSQL: bookings that arrive while
//! earlier ones are being written wait and go together, in one statement
//! (`store::scheduling::book_queued`). Each booking is still decided on its
//! own. A statement's fixed cost (a round trip, starting a plan that opens
//! five tables and their indexes, a commit) is most of a booking's cost, and
//! in a rush the database shares the two cores with the web server: written
//! one by one, the 200 seats of a rush took longer than the 9,800 refusals.
//!
//! When bookings trickle in, each goes alone at once: nothing waits for a
//! batch to fill.
//!
//! The writers keep their connections: PostgreSQL plans a statement for
//! each connection (and the first few times for each execution), and the
//! pool hands its connections out in turn, so a batch on a fresh one paid
//! for planning again. They give them back when the server shuts down.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ihos_store::scheduling::{BookOutcome, QueuedBooking, book_queued};
use ihos_store::{PinnedConn, Store, StoreError, StoreResult};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Statements in flight at once; more would only queue in the database.
const WRITERS: usize = 2;
/// Bookings per statement at most.
const MAX_BATCH: usize = 64;

type Answer = oneshot::Sender<StoreResult<BookOutcome>>;

pub struct Batcher {
    queue: mpsc::UnboundedSender<(QueuedBooking, Answer)>,
    connections: Arc<Connections>,
}

/// The writers' own connections, while they are not writing.
#[derive(Default)]
struct Connections {
    idle: Mutex<Vec<PinnedConn>>,
    closing: AtomicBool,
}

impl Batcher {
    /// Starts the batching task; it ends when the batcher is dropped.
    pub fn start(store: Store, daily_limit: i64) -> Self {
        let (queue, waiting) = mpsc::unbounded_channel();
        let connections = Arc::new(Connections::default());
        tokio::spawn(run(store, daily_limit, waiting, connections.clone()));
        Self { queue, connections }
    }

    /// Give the writers' connections back to the pool (so it can close);
    /// bookings still arriving take one from the pool each.
    pub fn shutdown(&self) {
        // Under the lock, so a writer finishing now cannot put its connection back.
        let idle = self.connections.idle.lock();
        self.connections.closing.store(true, Ordering::SeqCst);
        if let Ok(mut idle) = idle {
            idle.clear();
        }
    }

    pub async fn book(&self, booking: QueuedBooking) -> StoreResult<BookOutcome> {
        let (answer, answered) = oneshot::channel();
        if self.queue.send((booking, answer)).is_err() {
            return Err(stopped());
        }
        answered.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError::closed()
}

async fn run(
    store: Store,
    daily_limit: i64,
    mut waiting: mpsc::UnboundedReceiver<(QueuedBooking, Answer)>,
    connections: Arc<Connections>,
) {
    let writers = Arc::new(Semaphore::new(WRITERS));
    // Bookings held back because their slot or patient was already in the
    // batch being formed: they lead the next one.
    let mut held: VecDeque<(QueuedBooking, Answer)> = VecDeque::new();
    loop {
        // Wait for a free writer first: what arrives meanwhile joins the batch.
        let Ok(writer) = writers.clone().acquire_owned().await else {
            return;
        };
        let first = match held.pop_front() {
            Some(job) => job,
            None => match waiting.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut slots = HashSet::from([first.0.slot_id.clone()]);
        let mut patients = HashSet::from([first.0.patient_id.clone()]);
        let mut batch = vec![first];
        let mut next_round = VecDeque::new();
        let mut take = |job: (QueuedBooking, Answer), next_round: &mut VecDeque<_>| {
            if batch.len() < MAX_BATCH
                && !slots.contains(&job.0.slot_id)
                && !patients.contains(&job.0.patient_id)
            {
                slots.insert(job.0.slot_id.clone());
                patients.insert(job.0.patient_id.clone());
                batch.push(job);
            } else {
                next_round.push_back(job);
            }
        };
        while let Some(job) = held.pop_front() {
            take(job, &mut next_round);
        }
        while let Ok(job) = waiting.try_recv() {
            take(job, &mut next_round);
        }
        held = next_round;
        let (store, connections) = (store.clone(), connections.clone());
        tokio::spawn(async move {
            let _writer = writer;
            write(&store, &connections, batch, daily_limit).await;
        });
    }
}

async fn write(
    store: &Store,
    connections: &Connections,
    batch: Vec<(QueuedBooking, Answer)>,
    daily_limit: i64,
) {
    let (bookings, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    let outcomes = match connection(store, connections).await {
        Ok((mut conn, kept)) => {
            let outcomes = book_queued(&mut conn, &bookings, daily_limit).await;
            if kept {
                keep(connections, conn);
            }
            outcomes
        }
        Err(e) => {
            tracing::error!(error = %e, batch = bookings.len(), "no connection for bookings");
            bookings.iter().map(|_| Err(stopped())).collect()
        }
    };
    for (answer, outcome) in answers.into_iter().zip(outcomes) {
        // The caller may have gone (client disconnected): the booking stands.
        let _ = answer.send(outcome);
    }
}

/// A writer's own connection (`true`: keep it afterwards), or one from the
/// pool when the pool is small or the server is shutting down. At most
/// `WRITERS` are kept, one per writer.
async fn connection(store: &Store, connections: &Connections) -> StoreResult<(PinnedConn, bool)> {
    if connections.closing.load(Ordering::SeqCst) {
        return Ok((store.conn().await?, false));
    }
    let idle = connections.idle.lock().ok().and_then(|mut idle| idle.pop());
    if let Some(conn) = idle {
        return Ok((conn, true));
    }
    Ok(match store.pin().await? {
        Some(conn) => (conn, true),
        None => (store.conn().await?, false),
    })
}

fn keep(connections: &Connections, conn: PinnedConn) {
    if let Ok(mut idle) = connections.idle.lock()
        && !connections.closing.load(Ordering::SeqCst)
    {
        idle.push(conn);
    }
}
