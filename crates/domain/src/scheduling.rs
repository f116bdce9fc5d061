//! Schedules and time-slot appointments (分时段预约): weekly templates split
//! into slots, release rules, cancellation and refund rules, queue estimates.
//! Local times are Asia/Shanghai; stored times are UTC milliseconds.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

/// The rules a platform configures for booking. Defaults follow common
/// practice at Chinese hospitals: slots open 7 days ahead at 07:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Slots for day D open at `release_hour`:00 on day D - `release_days_ahead`.
    pub release_days_ahead: u32,
    pub release_hour: u32,
    /// Most active bookings one patient may hold for one day.
    pub daily_limit: u32,
    /// Cancelling at least this many hours before the slot refunds the fee in full.
    pub cancel_cutoff_hours: i64,
    /// Share of the fee refunded for a late cancellation (after the cut-off), in percent.
    pub late_refund_percent: i64,
    /// How many days ahead templates are turned into slots.
    pub horizon_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            release_days_ahead: 7,
            release_hour: 7,
            daily_limit: 2,
            cancel_cutoff_hours: 24,
            late_refund_percent: 0,
            horizon_days: 14,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotType {
    General,
    Specialist,
    Expert,
}

impl SlotType {
    pub const ALL: [SlotType; 3] = [SlotType::General, SlotType::Specialist, SlotType::Expert];

    pub fn as_str(self) -> &'static str {
        match self {
            SlotType::General => "general",
            SlotType::Specialist => "specialist",
            SlotType::Expert => "expert",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            SlotType::General => "普通号",
            SlotType::Specialist => "专科号",
            SlotType::Expert => "专家号",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.label_zh() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::InvalidSlotType,
                    "Slot type is general, specialist or expert.",
                )
                .on("slot_type")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Online,
    Offline,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Online => "online",
            Mode::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "online" => Ok(Mode::Online),
            "offline" => Ok(Mode::Offline),
            _ => Err(
                DomainError::new(ErrorCode::InvalidMode, "Mode is online or offline.").on("mode"),
            ),
        }
    }
}

/// Where an appointment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    /// Cancelled by the patient before the cut-off: full refund.
    Cancelled,
    /// Cancelled by the patient after the cut-off: counted, partial or no refund.
    LateCancelled,
    /// The hospital withdrew the slot (template change, leave): full refund, may rebook.
    Displaced,
    Attended,
    NoShow,
}

impl AppointmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Cancelled => "cancelled",
            Self::LateCancelled => "late_cancelled",
            Self::Displaced => "displaced",
            Self::Attended => "attended",
            Self::NoShow => "no_show",
        }
    }
}

/// Minutes after local midnight from "HH:MM".
pub fn parse_hhmm(s: &str, field: &'static str) -> Result<u32, DomainError> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map(|t| t.hour_minute())
        .map_err(|_| {
            DomainError::new(ErrorCode::InvalidTime, "Times are HH:MM, e.g. 08:30.").on(field)
        })
}

trait HourMinute {
    fn hour_minute(&self) -> u32;
}

impl HourMinute for NaiveTime {
    fn hour_minute(&self) -> u32 {
        use chrono::Timelike;
        self.hour() * 60 + self.minute()
    }
}

pub fn format_hhmm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Hours of one day split into slots: what a template or extra hours describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub start_minute: u32,
    pub end_minute: u32,
    pub slot_minutes: u32,
    pub capacity: u32,
    pub slot_type: SlotType,
    pub fee_fen: i64,
    pub mode: Mode,
}

pub const SLOT_MINUTES: [u32; 6] = [5, 10, 15, 20, 30, 60];

impl Hours {
    pub fn validate(self) -> Result<Self, DomainError> {
        if self.end_minute <= self.start_minute || self.end_minute > 24 * 60 {
            return Err(DomainError::new(
                ErrorCode::InvalidHours,
                "The end time must be after the start time on the same day.",
            )
            .on("end"));
        }
        if !SLOT_MINUTES.contains(&self.slot_minutes) {
            return Err(DomainError::new(
                ErrorCode::InvalidSlotLength,
                "A slot lasts 5, 10, 15, 20, 30 or 60 minutes.",
            )
            .on("slot_minutes"));
        }
        if (self.end_minute - self.start_minute) < self.slot_minutes {
            return Err(DomainError::new(
                ErrorCode::InvalidHours,
                "The hours are shorter than one slot.",
            )
            .on("end"));
        }
        if !(1..=500).contains(&self.capacity) {
            return Err(DomainError::new(
                ErrorCode::InvalidCapacity,
                "Each slot takes between 1 and 500 patients.",
            )
            .on("capacity"));
        }
        if !(0..=10_000_000).contains(&self.fee_fen) {
            return Err(DomainError::new(
                ErrorCode::InvalidFee,
                "The fee is a whole number of fen between 0 and 10,000,000 (¥100,000).",
            )
            .on("fee_fen"));
        }
        Ok(self)
    }

    /// The slots of these hours on `date` (local), as UTC ms (start, end).
    /// A trailing remainder shorter than one slot is left out.
    pub fn slots_on(&self, date: NaiveDate) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut m = self.start_minute;
        while m + self.slot_minutes <= self.end_minute {
            out.push((local_ms(date, m), local_ms(date, m + self.slot_minutes)));
            m += self.slot_minutes;
        }
        out
    }
}

/// UTC ms of `minutes` after local midnight of `date` in Asia/Shanghai
/// (no daylight saving: always UTC+8).
pub fn local_ms(date: NaiveDate, minutes: u32) -> i64 {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    let local = midnight + Duration::minutes(i64::from(minutes));
    Shanghai
        .from_local_datetime(&local)
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

/// The local (Asia/Shanghai) date of a UTC ms instant.
pub fn local_date(ms: i64) -> NaiveDate {
    Shanghai
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// "HH:MM" local of a UTC ms instant.
pub fn local_hhmm(ms: i64) -> String {
    Shanghai
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// ISO weekday 1 = Monday ... 7 = Sunday.
pub fn weekday_number(date: NaiveDate) -> u32 {
    date.weekday().number_from_monday()
}

pub fn parse_weekday(n: u32) -> Result<Weekday, DomainError> {
    match n {
        1 => Ok(Weekday::Mon),
        2 => Ok(Weekday::Tue),
        3 => Ok(Weekday::Wed),
        4 => Ok(Weekday::Thu),
        5 => Ok(Weekday::Fri),
        6 => Ok(Weekday::Sat),
        7 => Ok(Weekday::Sun),
        _ => Err(DomainError::new(
            ErrorCode::InvalidWeekday,
            "Weekday is 1 (Monday) to 7 (Sunday).",
        )
        .on("weekday")),
    }
}

impl Policy {
    /// When slots for `service_date` open for booking (UTC ms).
    pub fn opens_at(&self, service_date: NaiveDate) -> i64 {
        let day = service_date - Duration::days(i64::from(self.release_days_ahead));
        local_ms(day, self.release_hour.min(23) * 60)
    }

    /// Refuse a booking before release or once the slot has started.
    pub fn check_bookable(
        &self,
        now: i64,
        opens_at: i64,
        starts_at: i64,
    ) -> Result<(), DomainError> {
        if now < opens_at {
            return Err(DomainError::new(
                ErrorCode::SlotNotReleased,
                format!(
                    "This slot opens for booking on {} at {}; please come back then.",
                    local_date(opens_at),
                    local_hhmm(opens_at)
                ),
            ));
        }
        if now >= starts_at {
            return Err(DomainError::new(
                ErrorCode::SlotStarted,
                "This slot has already started; choose a later one.",
            ));
        }
        Ok(())
    }

    /// What cancelling at `now` means for a booking of `fee_fen` starting at `starts_at`.
    pub fn cancellation(
        &self,
        now: i64,
        starts_at: i64,
        fee_fen: i64,
    ) -> Result<(AppointmentStatus, i64), DomainError> {
        if now >= starts_at {
            return Err(DomainError::new(
                ErrorCode::TooLateToCancel,
                "The appointment has started; it can no longer be cancelled.",
            ));
        }
        if starts_at - now >= self.cancel_cutoff_hours * 3_600_000 {
            Ok((AppointmentStatus::Cancelled, fee_fen))
        } else {
            let refund = fee_fen * self.late_refund_percent.clamp(0, 100) / 100;
            Ok((AppointmentStatus::LateCancelled, refund))
        }
    }
}

/// Estimated wait in minutes for the patient at `position` (1-based) among
/// the bookings of a slot that starts at `starts_at` and lasts `slot_minutes`
/// with `capacity` seats: patients in one slot are seen one after another.
pub fn estimated_wait_minutes(
    now: i64,
    starts_at: i64,
    slot_minutes: i64,
    capacity: i64,
    position: i64,
) -> i64 {
    let until_start = ((starts_at - now).max(0) + 59_999) / 60_000;
    let per_patient = slot_minutes / capacity.max(1);
    until_start + (position.max(1) - 1) * per_patient
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn morning() -> Hours {
        Hours {
            start_minute: 8 * 60,
            end_minute: 11 * 60 + 30,
            slot_minutes: 15,
            capacity: 3,
            slot_type: SlotType::Expert,
            fee_fen: 5000,
            mode: Mode::Offline,
        }
    }

    #[test]
    fn hours_split_into_slots_in_shanghai_time() {
        let slots = morning().slots_on(d("2026-03-02"));
        assert_eq!(slots.len(), 14);
        // 08:00 in Shanghai is 00:00 UTC.
        assert_eq!(slots[0].0, 1_772_409_600_000);
        assert_eq!(slots[0].1 - slots[0].0, 15 * 60_000);
        assert_eq!(local_hhmm(slots[13].0), "11:15");
        assert_eq!(local_date(slots[0].0), d("2026-03-02"));
    }

    #[test]
    fn a_trailing_remainder_shorter_than_a_slot_is_left_out() {
        let h = Hours {
            end_minute: 8 * 60 + 25,
            slot_minutes: 10,
            ..morning()
        };
        assert_eq!(h.slots_on(d("2026-03-02")).len(), 2);
    }

    #[test]
    fn hours_are_validated() {
        let bad = |h: Hours| h.validate().unwrap_err().code;
        assert_eq!(
            bad(Hours {
                end_minute: 7 * 60,
                ..morning()
            }),
            "invalid_hours"
        );
        assert_eq!(
            bad(Hours {
                slot_minutes: 7,
                ..morning()
            }),
            "invalid_slot_length"
        );
        assert_eq!(
            bad(Hours {
                capacity: 0,
                ..morning()
            }),
            "invalid_capacity"
        );
        assert_eq!(
            bad(Hours {
                fee_fen: -1,
                ..morning()
            }),
            "invalid_fee"
        );
        assert!(morning().validate().is_ok());
        assert_eq!(
            parse_hhmm("25:00", "start").unwrap_err().code,
            "invalid_time"
        );
        assert_eq!(parse_hhmm("08:30", "start").unwrap(), 510);
        assert_eq!(format_hhmm(510), "08:30");
        assert_eq!(SlotType::parse("专家号").unwrap(), SlotType::Expert);
        assert!(parse_weekday(0).is_err());
    }

    #[test]
    fn slots_open_seven_days_ahead_at_seven_in_the_morning() {
        let p = Policy::default();
        let opens = p.opens_at(d("2026-03-09"));
        assert_eq!(local_date(opens), d("2026-03-02"));
        assert_eq!(local_hhmm(opens), "07:00");
        let starts = local_ms(d("2026-03-09"), 8 * 60);
        assert_eq!(
            p.check_bookable(opens - 1, opens, starts).unwrap_err().code,
            "slot_not_released"
        );
        assert!(p.check_bookable(opens, opens, starts).is_ok());
        assert_eq!(
            p.check_bookable(starts, opens, starts).unwrap_err().code,
            "slot_started"
        );
    }

    #[test]
    fn cancelling_before_the_cut_off_refunds_in_full_and_after_it_counts_as_late() {
        let p = Policy {
            late_refund_percent: 50,
            ..Policy::default()
        };
        let starts = 100 * 3_600_000;
        assert_eq!(
            p.cancellation(starts - 24 * 3_600_000, starts, 5000)
                .unwrap(),
            (AppointmentStatus::Cancelled, 5000)
        );
        assert_eq!(
            p.cancellation(starts - 24 * 3_600_000 + 1, starts, 5000)
                .unwrap(),
            (AppointmentStatus::LateCancelled, 2500)
        );
        assert_eq!(
            p.cancellation(starts, starts, 5000).unwrap_err().code,
            "too_late_to_cancel"
        );
        let strict = Policy::default();
        assert_eq!(
            strict.cancellation(starts - 60_000, starts, 5000).unwrap(),
            (AppointmentStatus::LateCancelled, 0)
        );
    }

    #[test]
    fn the_wait_grows_with_the_queue_position() {
        let now = 0;
        let starts = 30 * 60_000;
        assert_eq!(estimated_wait_minutes(now, starts, 15, 3, 1), 30);
        assert_eq!(estimated_wait_minutes(now, starts, 15, 3, 3), 40);
        assert_eq!(estimated_wait_minutes(starts + 1, starts, 15, 3, 2), 5);
    }
}
