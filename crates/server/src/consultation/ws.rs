//! The chat WebSocket: `GET /api/v1/consultations/{id}/chat?after=N`.
//!
//! Server → client frames (JSON text):
//! * `{"type":"message","seq":7,"id":..,"sender_id":..,"sender_role":"doctor","client_id":..,"kind":"text","text":..,"attachment_id":null,"at":..}`
//! * `{"type":"ready","last_seq":7,"status":"in_progress"}` once the backlog after `after` is sent
//! * The sender's own message comes back in the stream, in sequence order, once
//!   it is committed: that `message` frame (same `client_id`) is the acknowledgement.
//! * `{"type":"ack","client_id":..,"seq":8,"id":..,"duplicate":true}` for a resend of a
//!   message stored before (its frame was sent earlier)
//! * `{"type":"status","status":"completed"}` when the consultation changes
//! * `{"type":"error","code":..,"message":..,"detail":..,"client_id":..}`: an API
//!   error body (message in the language of the upgrade request)
//!
//! Client → server: `{"type":"send","client_id":"c-1","kind":"text","text":"..."}`
//! (or `"kind":"picture","attachment_id":..`). Resending the same client id
//! after a disconnect is safe: the ack names the stored message.

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use ihos_domain::ErrorCode;
use ihos_store::Store;
use ihos_store::consultation::{self as cstore, ConsultationRow};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};

use super::chat::{RoomEvent, message_json};
use super::service::{self, SendInput, Side};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::state::AppState;

/// Largest frame a client may send.
pub const MAX_FRAME: usize = 64 * 1024;
/// Per-connection read buffer (a larger frame still arrives, in several reads).
pub const READ_BUFFER: usize = 8 * 1024;
const BACKLOG_PAGE: i64 = 500;

#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind_of_frame: String,
    #[serde(flatten)]
    send: Option<SendInput>,
}

pub async fn run(
    state: AppState,
    row: ConsultationRow,
    side: Side,
    me: String,
    after: i64,
    lang: Lang,
    socket: WebSocket,
) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut out_rx) = mpsc::channel::<Message>(512);
    let mut closing = super::chat::hub(&state).closing();
    // Subscribe before reading the backlog so nothing falls between the two.
    let room = super::chat::hub(&state).subscribe(&row.id);
    let writer = tokio::spawn(async move {
        // Frames queued together go out in one write.
        'frames: while let Some(m) = out_rx.recv().await {
            if sink.feed(m).await.is_err() {
                break;
            }
            while let Ok(m) = out_rx.try_recv() {
                if sink.feed(m).await.is_err() {
                    break 'frames;
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    // A resume point beyond the last message (a confused client) counts from the last one.
    let forwarder = tokio::spawn(forward(
        state.store.clone(),
        row.id.clone(),
        row.status.clone(),
        after.clamp(0, row.next_seq),
        room,
        out.clone(),
    ));
    let mut forwarder = forwarder;
    loop {
        tokio::select! {
            // Without its live stream the connection is useless: close it so the client resumes.
            _ = &mut forwarder => break,
            _ = closing.changed() => {
                let _ = out.send(Message::Close(None)).await;
                break;
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    if let Some(reply) = handle(&state, &row, side, &me, lang, t.as_str()).await
                        && out.send(Message::Text(reply.into())).await.is_err()
                    {
                        break;
                    }
                }
                Some(Ok(Message::Ping(p))) => {
                    let _ = out.send(Message::Pong(p)).await;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    }
    forwarder.abort();
    drop(out);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), writer).await;
}

async fn handle(
    state: &AppState,
    row: &ConsultationRow,
    side: Side,
    me: &str,
    lang: Lang,
    text: &str,
) -> Option<String> {
    // The same shape as an API error body, with the frame's type and client_id.
    let error = |e: ApiError, client_id: Option<&str>| {
        let body = e.body(lang);
        let mut frame = json!({
            "type": "error", "code": body.error, "message": body.message, "client_id": client_id
        });
        if let Some(d) = body.detail {
            frame["detail"] = d.into();
        }
        Some(frame.to_string())
    };
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(_) => {
            return error(
                ApiError::bad_request(
                    ErrorCode::MalformedFrame,
                    "Send JSON like {\"type\":\"send\",\"client_id\":\"c-1\",\"text\":\"...\"}.",
                ),
                None,
            );
        }
    };
    match (frame.kind_of_frame.as_str(), frame.send) {
        ("send", Some(input)) => {
            let client_id = input.client_id.clone();
            match service::send(state, row, side, me, input).await {
                // The room stream carries it to this connection too, in order.
                Ok((_, true)) => None,
                Ok((m, false)) => Some(
                    json!({
                        "type": "ack", "client_id": m.client_id, "seq": m.seq, "id": m.id, "duplicate": true
                    })
                    .to_string(),
                ),
                Err(e) => error(e, Some(&client_id)),
            }
        }
        ("ping", _) => Some(json!({"type": "pong"}).to_string()),
        _ => error(
            ApiError::bad_request(
                ErrorCode::MalformedFrame,
                "Unknown frame; the client sends {\"type\":\"send\",...}.",
            ),
            None,
        ),
    }
}

/// Send everything after `last` from the database, then the live stream;
/// any gap (a late subscription, a lagging reader) is filled from the database.
async fn forward(
    store: Store,
    cid: String,
    status: String,
    mut last: i64,
    mut room: broadcast::Receiver<RoomEvent>,
    out: mpsc::Sender<Message>,
) {
    if catch_up(&store, &cid, &mut last, &out).await.is_err() {
        return;
    }
    let ready = json!({"type": "ready", "last_seq": last, "status": status}).to_string();
    if out.send(Message::Text(ready.into())).await.is_err() {
        return;
    }
    loop {
        match room.recv().await {
            Ok(RoomEvent::Message { seq, json }) => {
                if seq <= last {
                    continue;
                }
                if seq > last + 1 {
                    if catch_up(&store, &cid, &mut last, &out).await.is_err() {
                        return;
                    }
                    if seq <= last {
                        continue;
                    }
                }
                if out
                    .send(Message::Text(Utf8Bytes::from(json.as_ref())))
                    .await
                    .is_err()
                {
                    return;
                }
                last = seq;
            }
            Ok(RoomEvent::Status { json }) => {
                if out
                    .send(Message::Text(Utf8Bytes::from(json.as_ref())))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                if catch_up(&store, &cid, &mut last, &out).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn catch_up(
    store: &Store,
    cid: &str,
    last: &mut i64,
    out: &mpsc::Sender<Message>,
) -> Result<(), ()> {
    loop {
        let page = {
            let mut conn = store.conn().await.map_err(|_| ())?;
            cstore::messages_after(&mut conn, cid, *last, BACKLOG_PAGE)
                .await
                .map_err(|_| ())?
        };
        let n = page.len() as i64;
        for m in page {
            out.send(Message::Text(message_json(&m).into()))
                .await
                .map_err(|_| ())?;
            *last = m.seq;
        }
        if n < BACKLOG_PAGE {
            return Ok(());
        }
    }
}
