//! Operations report: consultations per internet hospital per day, idle
//! internet hospitals, the share of doctors active online, growth by month.
//! Days are Asia/Shanghai calendar days (UTC+8).

use crate::influence::Statement;

#[derive(Debug, Clone)]
pub struct OpsSpec {
    pub year: i32,
    /// A hospital averaging fewer online services a day than this is idle.
    pub idle_below_per_day: f64,
}

const SHANGHAI_DAY: &str = "CAST(FLOOR((ts_ms + 28800000) / 86400000.0) AS BIGINT)";

pub fn statements(spec: &OpsSpec) -> Vec<Statement> {
    let y = spec.year;
    vec![
        Statement {
            name: "hospital_days",
            creates_table: true,
            sql: format!(
                "SELECT d.hospital_key, {SHANGHAI_DAY} AS day, COUNT(*) AS services \
                 FROM events e JOIN departments d ON d.department_key = e.department_key \
                 WHERE e.year = {y} AND e.kind = 2 GROUP BY d.hospital_key, {SHANGHAI_DAY}"
            ),
        },
        Statement {
            name: "services_per_hospital_per_day",
            creates_table: false,
            sql: "SELECT h.hospital_name, h.province, h.city, COALESCE(SUM(s.services), 0) AS services, \
                   COUNT(s.day) AS active_days, ROUND(CAST(COALESCE(SUM(s.services), 0) AS DOUBLE) / 365.0, 2) AS per_day \
                 FROM hospitals h LEFT JOIN hospital_days s ON s.hospital_key = h.hospital_key \
                 GROUP BY h.hospital_key, h.hospital_name, h.province, h.city \
                 ORDER BY services DESC, h.hospital_key"
                .to_string(),
        },
        Statement {
            name: "idle_hospitals",
            creates_table: false,
            sql: format!(
                "SELECT h.hospital_name, h.province, h.city, ROUND(CAST(COALESCE(SUM(s.services), 0) AS DOUBLE) / 365.0, 2) AS per_day \
                 FROM hospitals h LEFT JOIN hospital_days s ON s.hospital_key = h.hospital_key \
                 GROUP BY h.hospital_key, h.hospital_name, h.province, h.city \
                 HAVING CAST(COALESCE(SUM(s.services), 0) AS DOUBLE) / 365.0 < {} ORDER BY per_day, h.hospital_key",
                spec.idle_below_per_day
            ),
        },
        Statement {
            name: "doctor_participation",
            creates_table: false,
            sql: format!(
                "SELECT (SELECT COUNT(*) FROM doctors) AS doctors, \
                   (SELECT COUNT(DISTINCT doctor_key) FROM events WHERE year = {y} AND kind = 2) AS active_online, \
                   ROUND(CAST((SELECT COUNT(DISTINCT doctor_key) FROM events WHERE year = {y} AND kind = 2) AS DOUBLE) \
                     / CAST((SELECT COUNT(*) FROM doctors) AS DOUBLE), 4) AS share_active"
            ),
        },
        Statement {
            name: "growth_by_month",
            creates_table: false,
            sql: "SELECT year, month, COUNT(*) AS services FROM events WHERE kind = 2 \
                  GROUP BY year, month ORDER BY year, month"
                .to_string(),
        },
    ]
}
