//! The admission gate: an in-process memory of slots seen full, so a
//! registration rush is refused without touching the database once a slot
//! is gone. It is only a hint: the conditional UPDATE and the unique
//! constraints decide. A mark expires after `FULL_TTL`, so a seat freed on
//! another server (a cancellation) becomes bookable again within that time;
//! a cancellation on this server clears the mark at once.
//!
//! Attempts on one slot also take turns within this process: while one is
//! in the database, the next waits, then finds the slot marked full without
//! a trip of its own. In a rush the database then sees about one attempt per
//! seat instead of every attempt that arrived before the last seat was gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const FULL_TTL: Duration = Duration::from_secs(2);

const SHARDS: usize = 16;

type Turns = Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>;

#[derive(Debug)]
pub struct Gate {
    shards: [Mutex<HashMap<String, Instant>>; SHARDS],
    ttl: Duration,
    turns: Arc<Turns>,
}

/// One booking attempt's turn on a slot; the next attempt waits until it drops.
pub struct Turn {
    slot_id: String,
    turns: Arc<Turns>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Ok(mut turns) = self.turns.lock() else {
            return;
        };
        // Nobody else holds or waits for this slot (the map and this turn
        // are the only owners): forget it, so the map holds live slots only.
        if turns
            .get(&self.slot_id)
            .is_some_and(|m| Arc::strong_count(m) <= 2)
        {
            turns.remove(&self.slot_id);
        }
        self.guard.take();
    }
}

impl Default for Gate {
    fn default() -> Self {
        Self::with_ttl(FULL_TTL)
    }
}

impl Gate {
    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            ttl,
            turns: Arc::default(),
        }
    }

    /// Wait for this slot's turn in this process.
    pub async fn turn(&self, slot_id: &str) -> Turn {
        let slot = match self.turns.lock() {
            Ok(mut turns) => turns.entry(slot_id.to_string()).or_default().clone(),
            // Only after a panic elsewhere: a turn of its own (no waiting).
            Err(_) => Arc::default(),
        };
        Turn {
            slot_id: slot_id.to_string(),
            turns: self.turns.clone(),
            guard: Some(slot.lock_owned().await),
        }
    }

    fn shard(&self, slot_id: &str) -> &Mutex<HashMap<String, Instant>> {
        let h = slot_id
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        &self.shards[h % SHARDS]
    }

    /// Was this slot seen full within the last `ttl`?
    pub fn known_full(&self, slot_id: &str) -> bool {
        let Ok(mut map) = self.shard(slot_id).lock() else {
            return false;
        };
        match map.get(slot_id) {
            Some(at) if at.elapsed() < self.ttl => true,
            Some(_) => {
                map.remove(slot_id);
                false
            }
            None => false,
        }
    }

    pub fn mark_full(&self, slot_id: &str) {
        if let Ok(mut map) = self.shard(slot_id).lock() {
            if map.len() > 100_000 {
                let ttl = self.ttl;
                map.retain(|_, at| at.elapsed() < ttl);
            }
            map.insert(slot_id.to_string(), Instant::now());
        }
    }

    /// A seat came back (cancellation, more capacity): let requests through.
    pub fn clear(&self, slot_id: &str) {
        if let Ok(mut map) = self.shard(slot_id).lock() {
            map.remove(slot_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_mark_holds_until_cleared_or_expired() {
        let g = Gate::default();
        assert!(!g.known_full("a"));
        g.mark_full("a");
        assert!(g.known_full("a"));
        assert!(!g.known_full("b"));
        g.clear("a");
        assert!(!g.known_full("a"));
        let short = Gate::with_ttl(Duration::from_millis(1));
        short.mark_full("a");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!short.known_full("a"));
    }

    #[tokio::test]
    async fn attempts_on_one_slot_take_turns_and_the_map_forgets_finished_slots() {
        let g = Arc::new(Gate::default());
        let first = g.turn("a").await;
        // Another slot is not held up.
        drop(g.turn("b").await);
        let waiting = tokio::spawn({
            let g = g.clone();
            async move { g.turn("a").await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the second attempt waits its turn");
        drop(first);
        let second = waiting.await.unwrap();
        assert_eq!(g.turns.lock().unwrap().len(), 1);
        drop(second);
        assert!(g.turns.lock().unwrap().is_empty());
    }
}
