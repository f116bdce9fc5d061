//! The hospital internet influence index. Every step is plain SQL (see
//! `statements`), run here by DataFusion over the Parquet event log; the same
//! statements run unchanged on DuckDB (the benchmark checks the results are
//! identical) and are documented in docs/analytics.md for Ballista or Spark.

use serde::{Deserialize, Serialize};

/// Component weights (settings); they must sum to 1.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Weights {
    pub browse: f64,
    pub service: f64,
    pub exchange: f64,
    pub review: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            browse: 0.2,
            service: 0.35,
            exchange: 0.25,
            review: 0.2,
        }
    }
}

impl Weights {
    pub fn check(&self) -> Result<(), String> {
        let all = [self.browse, self.service, self.exchange, self.review];
        if all.iter().any(|w| !(0.0..=1.0).contains(w)) {
            return Err("each weight is between 0 and 1".into());
        }
        let sum: f64 = all.iter().sum();
        if (sum - 1.0).abs() > 1e-9 {
            return Err(format!("weights sum to {sum}, not 1"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct IndexSpec {
    pub year: i32,
    pub top_n: u32,
    pub weights: Weights,
    /// Hospitals need at least this many reviews to be ranked by satisfaction.
    pub min_reviews: u32,
}

/// One named SQL statement: `table` statements create an in-memory table the
/// next ones read; the others are report queries whose rows are written out.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub name: &'static str,
    pub creates_table: bool,
    pub sql: String,
}

fn normalised(col: &str) -> String {
    let w = "OVER (PARTITION BY year, specialty)";
    format!(
        "CASE WHEN MAX({col}) {w} > MIN({col}) {w} \
         THEN 100.0 * ({col} - MIN({col}) {w}) / (MAX({col}) {w} - MIN({col}) {w}) ELSE 100.0 END"
    )
}

/// The statements, in order. Tables read: `events` (with Hive columns year,
/// month), `departments`, `hospitals`.
pub fn statements(spec: &IndexSpec) -> Vec<Statement> {
    let (y, prev, top) = (spec.year, spec.year - 1, spec.top_n);
    let w = spec.weights;
    let score = format!(
        "{} * nb + {} * ns + {} * nx + {} * nr",
        w.browse, w.service, w.exchange, w.review
    );
    let count = |k: i32| format!("CAST(SUM(CASE WHEN kind = {k} THEN n ELSE 0 END) AS BIGINT)");
    vec![
        Statement {
            name: "component_counts",
            creates_table: true,
            sql: format!(
                "SELECT year, department_key, kind, COUNT(*) AS n, SUM(CAST(rating AS BIGINT)) AS rating_sum \
                 FROM events WHERE year IN ({prev}, {y}) GROUP BY year, department_key, kind"
            ),
        },
        Statement {
            name: "dept_index",
            creates_table: true,
            sql: format!(
                "WITH p AS (\
                   SELECT c.year, c.department_key, d.specialty, d.hospital_key, \
                     {browse} AS browse, {service} AS service, {exchange} AS exchange, {reviews} AS reviews, \
                     CAST(SUM(CASE WHEN kind = 4 THEN rating_sum ELSE 0 END) AS BIGINT) AS rating_sum \
                   FROM component_counts c JOIN departments d ON d.department_key = c.department_key \
                   GROUP BY c.year, c.department_key, d.specialty, d.hospital_key), \
                 r AS (SELECT *, LN(1 + CAST(browse AS DOUBLE)) AS rb, LN(1 + CAST(service AS DOUBLE)) AS rs, \
                   LN(1 + CAST(exchange AS DOUBLE)) AS rx, LN(1 + CAST(rating_sum AS DOUBLE)) AS rr FROM p), \
                 n AS (SELECT year, department_key, specialty, hospital_key, browse, service, exchange, reviews, rating_sum, \
                   {nb} AS nb, {ns} AS ns, {nx} AS nx, {nr} AS nr FROM r) \
                 SELECT year, department_key, specialty, hospital_key, browse, service, exchange, reviews, rating_sum, \
                   {score} AS idx, \
                   ROW_NUMBER() OVER (PARTITION BY year, specialty ORDER BY {score} DESC, department_key) AS rank_in_specialty \
                 FROM n",
                browse = count(1),
                service = count(2),
                exchange = count(3),
                reviews = count(4),
                nb = normalised("rb"),
                ns = normalised("rs"),
                nx = normalised("rx"),
                nr = normalised("rr"),
            ),
        },
        Statement {
            name: "listed_departments",
            creates_table: false,
            sql: format!(
                "SELECT i.specialty, i.rank_in_specialty AS rank, d.department_name, h.hospital_name, h.province, h.city, \
                   ROUND(i.idx, 4) AS idx, i.browse, i.service, i.exchange, i.reviews \
                 FROM dept_index i JOIN departments d ON d.department_key = i.department_key \
                 JOIN hospitals h ON h.hospital_key = i.hospital_key \
                 WHERE i.year = {y} AND i.rank_in_specialty <= {top} ORDER BY i.specialty, i.rank_in_specialty"
            ),
        },
        Statement {
            name: "hospitals_by_listed_departments",
            creates_table: false,
            sql: format!(
                "SELECT h.hospital_name, h.province, h.city, COUNT(*) AS listed_departments \
                 FROM dept_index i JOIN hospitals h ON h.hospital_key = i.hospital_key \
                 WHERE i.year = {y} AND i.rank_in_specialty <= {top} \
                 GROUP BY h.hospital_key, h.hospital_name, h.province, h.city \
                 ORDER BY listed_departments DESC, h.hospital_key LIMIT 100"
            ),
        },
        Statement {
            name: "hospitals_by_index_rise",
            creates_table: false,
            sql: format!(
                "WITH cur AS (SELECT hospital_key, AVG(idx) AS a FROM dept_index WHERE year = {y} GROUP BY hospital_key), \
                      old AS (SELECT hospital_key, AVG(idx) AS a FROM dept_index WHERE year = {prev} GROUP BY hospital_key) \
                 SELECT h.hospital_name, ROUND(cur.a, 4) AS index_this_year, ROUND(old.a, 4) AS index_last_year, \
                   ROUND(cur.a - old.a, 4) AS rise \
                 FROM cur JOIN old ON old.hospital_key = cur.hospital_key JOIN hospitals h ON h.hospital_key = cur.hospital_key \
                 ORDER BY cur.a - old.a DESC, cur.hospital_key LIMIT {top}"
            ),
        },
        Statement {
            name: "hospitals_by_service_volume",
            creates_table: false,
            sql: format!(
                "SELECT h.hospital_name, CAST(SUM(i.service) AS BIGINT) AS online_services \
                 FROM dept_index i JOIN hospitals h ON h.hospital_key = i.hospital_key WHERE i.year = {y} \
                 GROUP BY h.hospital_key, h.hospital_name ORDER BY online_services DESC, h.hospital_key LIMIT {top}"
            ),
        },
        Statement {
            name: "hospitals_by_satisfaction",
            creates_table: false,
            sql: format!(
                "SELECT h.hospital_name, CAST(SUM(i.reviews) AS BIGINT) AS reviews, \
                   ROUND(CAST(SUM(i.rating_sum) AS DOUBLE) / CAST(SUM(i.reviews) AS DOUBLE), 4) AS mean_rating \
                 FROM dept_index i JOIN hospitals h ON h.hospital_key = i.hospital_key WHERE i.year = {y} \
                 GROUP BY h.hospital_key, h.hospital_name HAVING SUM(i.reviews) >= {min} \
                 ORDER BY CAST(SUM(i.rating_sum) AS DOUBLE) / CAST(SUM(i.reviews) AS DOUBLE) DESC, h.hospital_key LIMIT {top}",
                min = spec.min_reviews
            ),
        },
        Statement {
            name: "first_time_entrants",
            creates_table: false,
            sql: format!(
                "SELECT h.hospital_name, h.province, h.city, COUNT(*) AS listed_departments \
                 FROM dept_index i JOIN hospitals h ON h.hospital_key = i.hospital_key \
                 WHERE i.year = {y} AND i.rank_in_specialty <= {top} AND i.hospital_key NOT IN \
                   (SELECT hospital_key FROM dept_index WHERE year = {prev} AND rank_in_specialty <= {top}) \
                 GROUP BY h.hospital_key, h.hospital_name, h.province, h.city \
                 ORDER BY listed_departments DESC, h.hospital_key"
            ),
        },
        Statement {
            name: "distribution_by_city",
            creates_table: false,
            sql: format!(
                "SELECT h.province, h.city, COUNT(*) AS listed_departments, COUNT(DISTINCT h.hospital_key) AS hospitals \
                 FROM dept_index i JOIN hospitals h ON h.hospital_key = i.hospital_key \
                 WHERE i.year = {y} AND i.rank_in_specialty <= {top} \
                 GROUP BY h.province, h.city ORDER BY listed_departments DESC, h.province, h.city"
            ),
        },
        Statement {
            name: "counts",
            creates_table: false,
            sql: format!(
                "SELECT COUNT(*) AS listed_departments, COUNT(DISTINCT i.specialty) AS specialties, \
                   COUNT(DISTINCT i.hospital_key) AS hospitals, COUNT(DISTINCT h.province) AS provinces, \
                   COUNT(DISTINCT h.city) AS cities \
                 FROM dept_index i JOIN hospitals h ON h.hospital_key = i.hospital_key \
                 WHERE i.year = {y} AND i.rank_in_specialty <= {top}"
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_must_sum_to_one() {
        assert!(Weights::default().check().is_ok());
        let w = Weights {
            browse: 0.5,
            ..Weights::default()
        };
        assert!(w.check().unwrap_err().contains("sum to"));
    }
}
