//! Chat messages over REST: the backlog, the thread and sending.

use super::*;

/// Chat history after `after` (the resume point), for participants.
pub async fn messages(
    state: &AppState,
    caller: &Caller,
    id: &str,
    after: i64,
    limit: i64,
) -> ApiResult<Vec<MessageView>> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    let rows = cstore::messages_after(&mut conn, id, after.max(0), limit.clamp(1, 1000)).await?;
    caller
        .audit(
            &mut conn,
            "consultation.messages.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    Ok(rows.into_iter().map(message_view).collect())
}

/// The escalation chain ending in this consultation, oldest first, with its
/// chat: the history that travels to the next tier.
pub async fn thread(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Vec<ThreadEntry>> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    let mut chain = vec![row.clone()];
    let mut parent = row.parent_id.clone();
    while let Some(pid) = parent {
        let Some(p) = cstore::consultation(&mut conn, &pid).await? else {
            break;
        };
        parent = p.parent_id.clone();
        chain.push(p);
        if chain.len() > 10 {
            break;
        }
    }
    chain.reverse();
    let mut out = Vec::with_capacity(chain.len());
    for c in chain {
        let msgs = cstore::messages_after(&mut conn, &c.id, 0, 5000).await?;
        out.push(ThreadEntry {
            consultation: view(&c)?,
            messages: msgs.into_iter().map(message_view).collect(),
        });
    }
    caller
        .audit(
            &mut conn,
            "consultation.thread.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    Ok(out)
}

/// A message to store and fan out; answers (message, newly stored).
pub async fn send(
    state: &AppState,
    row: &ConsultationRow,
    side: Side,
    caller_id: &str,
    input: SendInput,
) -> ApiResult<(MessageRow, bool)> {
    let client_id = parse_client_id(input.client_id.trim())?;
    let (kind, body, attachment_id) = match input.kind.as_str() {
        "text" => {
            let text = input.text.as_deref().unwrap_or_default();
            (
                "text",
                Some(parse_text(text, "text", MAX_MESSAGE_CHARS)?),
                None,
            )
        }
        "picture" => {
            let aid = input.attachment_id.unwrap_or_default();
            let mut conn = state.store.conn().await?;
            let ok = cstore::attachment(&mut conn, &aid)
                .await?
                .is_some_and(|a| a.consultation_id.as_deref() == Some(&row.id));
            if !ok {
                return Err(ApiError::from(
                    DomainError::new(
                        ErrorCode::InvalidAttachment,
                        "Upload the picture to this consultation first and send its id.",
                    )
                    .on("attachment_id"),
                ));
            }
            ("picture", None, Some(aid))
        }
        _ => {
            return Err(ApiError::from(
                DomainError::new(ErrorCode::InvalidField, "kind is text or picture.").on("kind"),
            ));
        }
    };
    let msg = NewMessage {
        consultation_id: row.id.clone(),
        sender_id: caller_id.to_string(),
        sender_role: side.as_str().into(),
        client_id,
        kind: kind.into(),
        body,
        attachment_id,
        created_at: now_ms(),
    };
    match super::super::chat::hub(state).submit(msg).await? {
        Appended::New(m) => Ok((m, true)),
        Appended::Repeat(m) => Ok((m, false)),
        Appended::Closed => Err(ApiError::conflict(
            ErrorCode::ChatClosed,
            "Chat is open only while the doctor has accepted the consultation and it has not ended.",
        )),
    }
}
