//! Time as people read it. Storage keeps UTC milliseconds; dates and times
//! shown to people, and "today" for rules such as age or the 3-year
//! practice rule, are Asia/Shanghai.

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

/// Today's date in Asia/Shanghai.
pub fn today_in_shanghai() -> NaiveDate {
    Utc::now().with_timezone(&Shanghai).date_naive()
}

/// Shanghai wall-clock time for display (`2026-12-04 18:30`).
pub fn shanghai_time(ms: i64) -> String {
    Shanghai
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
