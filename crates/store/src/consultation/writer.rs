//! The batched message writer: many messages in one statement, numbered per consultation.

use super::*;

/// The error a caller sees when the chat writer has stopped (shutdown).
pub fn writer_stopped() -> StoreError {
    StoreError::Db(sqlx::Error::PoolClosed)
}

/// Counter updates and inserts go in chunks of these sizes only, so every
/// statement the chat writer runs is one of a handful of cached prepared
/// statements whatever the batch size.
pub(super) const COUNTER_CHUNK: usize = 128;
pub(super) const INSERT_CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// The chat writer's fast path (group commit): store a batch of new messages
/// in the caller's transaction with a few statements per 32 consultations
/// and 64 messages. Answers the stored rows in input order, numbered as
/// `append_message` one by one would.
///
/// Answers `None` when the batch holds anything unusual: a consultation not
/// open for chat, or a client id stored before or repeated within the batch.
/// The transaction has then consumed sequence numbers: the caller rolls it
/// back and writes the batch one message at a time with `append_message`,
/// which answers repeats and closed chats.
pub async fn append_batch(
    conn: &mut AnyConnection,
    msgs: &[&NewMessage],
) -> StoreResult<Option<Vec<MessageRow>>> {
    use std::collections::HashMap;
    let positional = conn.backend_name() == "SQLite";
    let mut counts: Vec<(&str, i64)> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for m in msgs {
        let i = *at.entry(m.consultation_id.as_str()).or_insert_with(|| {
            counts.push((m.consultation_id.as_str(), 0));
            counts.len() - 1
        });
        counts[i].1 += 1;
    }
    // First number of each consultation's share of the batch.
    let mut next: HashMap<String, i64> = HashMap::with_capacity(counts.len());
    for chunk in counts.chunks(COUNTER_CHUNK) {
        let mut q = sqlx::query_as::<_, (String, i64)>(AssertSqlSafe(counter_sql(positional)));
        // Short chunks repeat their last pair: a repeated WHEN or IN value changes nothing.
        let padded = (0..COUNTER_CHUNK).map(|i| chunk[i.min(chunk.len() - 1)]);
        for (c, n) in padded.clone() {
            q = q.bind(c).bind(n);
        }
        for (c, _) in padded {
            q = q.bind(c);
        }
        for (id, last) in q.fetch_all(&mut *conn).await? {
            let n = chunk.iter().find(|(c, _)| *c == id).map_or(0, |(_, n)| *n);
            next.insert(id, last - n + 1);
        }
    }
    if next.len() != counts.len() {
        return Ok(None);
    }
    let mut rows = Vec::with_capacity(msgs.len());
    for m in msgs {
        let Some(seq) = next.get_mut(&m.consultation_id) else {
            return Ok(None);
        };
        rows.push(m.numbered(*seq));
        *seq += 1;
    }
    let mut rest: &[MessageRow] = &rows;
    while !rest.is_empty() {
        let size = INSERT_CHUNKS
            .into_iter()
            .find(|s| *s <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        let mut q = sqlx::query(AssertSqlSafe(insert_sql(positional, size)));
        for r in chunk {
            q = q
                .bind(&r.consultation_id)
                .bind(r.seq)
                .bind(&r.id)
                .bind(&r.sender_id)
                .bind(&r.sender_role)
                .bind(&r.client_id)
                .bind(&r.kind)
                .bind(r.body.as_deref())
                .bind(r.attachment_id.as_deref())
                .bind(r.created_at);
        }
        let inserted = q
            .execute(&mut *conn)
            .await
            .map_err(|e| classify(e, &["client_id", "seq"]))?
            .rows_affected();
        if inserted != size as u64 {
            // A client id seen before: a resend.
            return Ok(None);
        }
        rest = tail;
    }
    Ok(Some(rows))
}

/// Placeholders `$from..$from+n`, or plain `?` in order on SQLite: sqlx
/// resolves every numbered SQLite parameter by name, a linear search per
/// parameter that dominated statements with hundreds of them.
pub(super) fn placeholders(positional: bool, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| {
            if positional {
                "?".to_string()
            } else {
                format!("${i}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Statement texts by (SQLite or not, shape), built once.
pub(super) type SqlCache = std::sync::OnceLock<String>;

/// `UPDATE consultations ... RETURNING id, next_seq` for `COUNTER_CHUNK`
/// (id, count) pairs; the ids are bound again for the IN list.
pub(super) fn counter_sql(positional: bool) -> &'static str {
    static SQL: [SqlCache; 2] = [const { SqlCache::new() }; 2];
    SQL[usize::from(positional)].get_or_init(|| {
        let n = COUNTER_CHUNK;
        let cases = (0..n)
            .map(|i| {
                format!(
                    "WHEN {} THEN {}",
                    placeholders(positional, 2 * i + 1, 1),
                    placeholders(positional, 2 * i + 2, 1)
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "UPDATE consultations SET next_seq = next_seq + (CASE id {cases} ELSE 0 END) \
             WHERE id IN ({}) AND status IN ('accepted', 'in_progress') RETURNING id, next_seq",
            placeholders(positional, 2 * n + 1, n)
        )
    })
}

/// A multi-row message insert of one of the `INSERT_CHUNKS` sizes.
pub(super) fn insert_sql(positional: bool, rows: usize) -> &'static str {
    static SQL: [[SqlCache; INSERT_CHUNKS.len()]; 2] =
        [const { [const { SqlCache::new() }; INSERT_CHUNKS.len()] }; 2];
    let k = INSERT_CHUNKS
        .iter()
        .position(|s| *s == rows)
        .unwrap_or(INSERT_CHUNKS.len() - 1);
    SQL[usize::from(positional)][k].get_or_init(|| {
        let values = (0..INSERT_CHUNKS[k])
            .map(|i| format!("({})", placeholders(positional, 10 * i + 1, 10)))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO consultation_messages ({MESSAGE_COLUMNS}) VALUES {values} \
             ON CONFLICT (consultation_id, sender_id, client_id) DO NOTHING"
        )
    })
}
