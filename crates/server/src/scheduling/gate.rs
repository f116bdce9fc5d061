//! The admission gate: an in-process memory of slots seen full, so a
//! registration rush is refused without touching the database once a slot
//! is gone. It is only a hint: the conditional UPDATE and the unique
//! constraints decide. A mark expires after `FULL_TTL`, so a seat freed on
//! another server (a cancellation) becomes bookable again within that time;
//! a cancellation on this server clears the mark at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const FULL_TTL: Duration = Duration::from_secs(2);

const SHARDS: usize = 16;

#[derive(Debug)]
pub struct Gate {
    shards: [Mutex<HashMap<String, Instant>>; SHARDS],
    ttl: Duration,
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
}
