//! Real-time chat that loses nothing.
//!
//! * Every message is committed to the database before anyone (sender or
//!   reader) hears of it. One writer task per process takes messages from all
//!   connections and commits them in batches (group commit), so a busy server
//!   spends one transaction on many messages.
//! * Each consultation numbers its messages with a server sequence (an atomic
//!   counter on the consultation row). A client that reconnects sends the last
//!   number it saw and receives everything after it from the database, then the
//!   live stream, with duplicates dropped by number.
//! * Client message ids make a send idempotent: resending after a lost ack
//!   answers the stored message instead of storing it twice.
//! * Fan-out within one process uses a tokio broadcast channel per
//!   consultation; a reader that falls behind re-reads from the database.
//!   Several server nodes would add PostgreSQL LISTEN/NOTIFY (or NATS) on
//!   commit to wake the other nodes' rooms: future work, the resume-by-number
//!   protocol already tolerates it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ihos_store::consultation::{self as cstore, Appended, MessageRow, NewMessage};
use ihos_store::{PinnedConn, Store, StoreResult, WriteTx};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Messages taken into one transaction at most.
const MAX_BATCH: usize = 2048;
/// Live events buffered per room before a slow reader must re-read from the database.
const ROOM_CAPACITY: usize = 1024;

/// An event in a consultation room, serialised once for every listener.
#[derive(Debug, Clone)]
pub enum RoomEvent {
    Message { seq: i64, json: Arc<str> },
    Status { json: Arc<str> },
}

#[derive(Debug, Serialize)]
pub struct MessageEvent<'a> {
    #[serde(rename = "type")]
    pub kind_of_event: &'static str,
    pub seq: i64,
    pub id: &'a str,
    pub sender_id: &'a str,
    pub sender_role: &'a str,
    pub client_id: &'a str,
    pub kind: &'a str,
    pub text: Option<&'a str>,
    pub attachment_id: Option<&'a str>,
    pub at: i64,
}

pub fn message_json(m: &MessageRow) -> String {
    serde_json::to_string(&MessageEvent {
        kind_of_event: "message",
        seq: m.seq,
        id: &m.id,
        sender_id: &m.sender_id,
        sender_role: &m.sender_role,
        client_id: &m.client_id,
        kind: &m.kind,
        text: m.body.as_deref(),
        attachment_id: m.attachment_id.as_deref(),
        at: m.created_at,
    })
    .unwrap_or_default()
}

struct WriteJob {
    msg: NewMessage,
    reply: oneshot::Sender<StoreResult<Appended>>,
}

pub struct ChatHub {
    writer: mpsc::Sender<WriteJob>,
    rooms: Arc<Rooms>,
    closing: watch::Sender<bool>,
}

/// The live rooms of this process, by consultation id.
#[derive(Default)]
pub struct Rooms(Mutex<HashMap<String, broadcast::Sender<RoomEvent>>>);

impl Rooms {
    pub fn publish(&self, consultation_id: &str, event: RoomEvent) {
        let Ok(mut rooms) = self.0.lock() else {
            return;
        };
        if let Some(tx) = rooms.get(consultation_id)
            && tx.send(event).is_err()
        {
            // Nobody listens any more.
            rooms.remove(consultation_id);
        }
    }

    fn publish_message(&self, row: &MessageRow) {
        self.publish(
            &row.consultation_id,
            RoomEvent::Message {
                seq: row.seq,
                json: message_json(row).into(),
            },
        );
    }

    pub fn subscribe(&self, consultation_id: &str) -> broadcast::Receiver<RoomEvent> {
        match self.0.lock() {
            Ok(mut rooms) => rooms
                .entry(consultation_id.to_string())
                .or_insert_with(|| broadcast::channel(ROOM_CAPACITY).0)
                .subscribe(),
            // A poisoned map only happens after a panic elsewhere; a private
            // channel still lets the reader catch up from the database.
            Err(_) => broadcast::channel(1).1,
        }
    }
}

impl ChatHub {
    /// Start the writer task on the current runtime.
    pub fn start(store: Store) -> ChatHub {
        let (tx, rx) = mpsc::channel(8192);
        let (closing, _) = watch::channel(false);
        let rooms = Arc::new(Rooms::default());
        // The writer gets a thread of its own on the same runtime: as one task
        // among thousands of busy connections it waited its turn after every
        // statement, and those waits, not the database, bounded throughput.
        let handle = tokio::runtime::Handle::current();
        let writer = write_loop(store, rx, rooms.clone(), closing.subscribe());
        if let Err(e) = std::thread::Builder::new()
            .name("ihos-chat-writer".into())
            .spawn(move || handle.block_on(writer))
        {
            tracing::error!(error = %e, "no thread for the chat writer");
        }
        ChatHub {
            writer: tx,
            rooms,
            closing,
        }
    }

    /// Store one message (idempotent by client id); answers once it is
    /// committed and published to the room (in sequence order).
    pub async fn submit(&self, msg: NewMessage) -> StoreResult<Appended> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(WriteJob { msg, reply })
            .await
            .map_err(|_| cstore::writer_stopped())?;
        rx.await.map_err(|_| cstore::writer_stopped())?
    }

    /// Tell everyone in the room (status changes).
    pub fn publish(&self, consultation_id: &str, event: RoomEvent) {
        self.rooms.publish(consultation_id, event);
    }

    pub fn subscribe(&self, consultation_id: &str) -> broadcast::Receiver<RoomEvent> {
        self.rooms.subscribe(consultation_id)
    }

    /// Resolves when the server is shutting down (sockets close so clients reconnect elsewhere).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn shutdown(&self) {
        let _ = self.closing.send(true);
    }
}

async fn write_loop(
    store: Store,
    mut rx: mpsc::Receiver<WriteJob>,
    rooms: Arc<Rooms>,
    mut closing: watch::Receiver<bool>,
) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    // Taken at the first message and again after a failure (the old one may
    // be broken); given back when the server shuts down, or the pool could
    // not close.
    let mut pinned: Option<PinnedConn> = None;
    let mut pin_wanted = true;
    let mut shutting_down = false;
    loop {
        let first = tokio::select! {
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
            _ = closing.changed(), if !shutting_down => {
                shutting_down = true;
                pin_wanted = false;
                pinned = None;
                continue;
            }
        };
        if pin_wanted {
            pin_wanted = false;
            pinned = store.pin().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "chat writer shares the pool");
                None
            });
        }
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let written = match pinned.as_deref_mut() {
            Some(conn) => write_batch(store.begin_on(conn).await, &batch).await,
            None => write_batch(store.begin().await, &batch).await,
        };
        if written.is_err() {
            pinned = None;
            pin_wanted = !shutting_down;
        }
        match written {
            Ok(Some(rows)) => {
                for (job, row) in batch.drain(..).zip(rows) {
                    rooms.publish_message(&row);
                    let _ = job.reply.send(Ok(Appended::New(row)));
                }
            }
            outcome => {
                // A resend, a closed chat or a failure: one message per
                // transaction, so one bad message does not sink the others.
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, size = batch.len(), "chat batch failed; writing one by one");
                }
                for job in batch.drain(..) {
                    let r = write_one(&store, &job.msg).await;
                    if let Ok(Appended::New(row)) = &r {
                        rooms.publish_message(row);
                    }
                    let _ = job.reply.send(r);
                }
            }
        }
    }
}

/// The common case, all new messages to open chats: one transaction and a
/// few statements for the whole batch. `None` means the transaction was
/// rolled back and the batch needs writing one by one.
async fn write_batch(
    tx: StoreResult<WriteTx<'_>>,
    batch: &[WriteJob],
) -> StoreResult<Option<Vec<MessageRow>>> {
    let msgs: Vec<&NewMessage> = batch.iter().map(|j| &j.msg).collect();
    let mut tx = tx?;
    let Some(rows) = cstore::append_batch(&mut tx, &msgs).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    tx.commit().await?;
    Ok(Some(rows))
}

async fn write_one(store: &Store, msg: &NewMessage) -> StoreResult<Appended> {
    let mut tx = store.begin().await?;
    let r = cstore::append_message(&mut tx, msg).await?;
    tx.commit().await?;
    Ok(r)
}

/// This server's chat hub (a part of the state, built at assembly).
pub fn hub(state: &crate::state::AppState) -> &ChatHub {
    state.part::<ChatHub>()
}
