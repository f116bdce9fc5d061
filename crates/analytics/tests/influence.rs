//! The influence index on a hand-made event log whose answer is known, and on
//! generated data.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int8Array, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use ihos_analytics::commands::{influence_index, operations};
use ihos_analytics::engine::Table;
use ihos_analytics::generate::{GenSpec, generate};
use ihos_analytics::influence::{IndexSpec, Weights};
use ihos_analytics::model::{departments_schema, doctors_schema, events_schema, hospitals_schema};
use ihos_analytics::ops::OpsSpec;

fn write(path: &Path, batch: RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// (department, kind, count, rating) events in January of `year`.
fn events(dir: &Path, year: i32, spec: &[(i32, i8, usize, Option<i8>)]) {
    let start = chrono::NaiveDate::from_ymd_opt(year, 1, 10)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis();
    let (mut ts, mut dept, mut doc, mut kind, mut rating) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (d, k, n, r) in spec {
        for i in 0..*n {
            ts.push(start + i as i64);
            dept.push(*d);
            doc.push(Some(*d * 10));
            kind.push(*k);
            rating.push(*r);
        }
    }
    let b = RecordBatch::try_new(
        events_schema(),
        vec![
            Arc::new(Int64Array::from(ts)) as ArrayRef,
            Arc::new(Int32Array::from(dept)),
            Arc::new(Int32Array::from(doc)),
            Arc::new(Int8Array::from(kind)),
            Arc::new(Int8Array::from(rating)),
        ],
    )
    .unwrap();
    write(
        &dir.join(format!("events/year={year}/month=01/part-0.parquet")),
        b,
    );
}

fn dimensions(dir: &Path) {
    let h = RecordBatch::try_new(
        hospitals_schema(),
        vec![
            Arc::new(Int32Array::from(vec![0, 1, 2])) as ArrayRef,
            Arc::new(StringArray::from(vec!["甲医院", "乙医院", "丙医院"])),
            Arc::new(StringArray::from(vec!["三级甲等"; 3])),
            Arc::new(StringArray::from(vec!["浙江省", "浙江省", "江苏省"])),
            Arc::new(StringArray::from(vec!["杭州市", "宁波市", "南京市"])),
        ],
    )
    .unwrap();
    write(&dir.join("dim/hospitals.parquet"), h);
    let d = RecordBatch::try_new(
        departments_schema(),
        vec![
            Arc::new(Int32Array::from(vec![0, 1, 2, 3])) as ArrayRef,
            Arc::new(StringArray::from(vec![
                "心内科",
                "心内科",
                "心内科",
                "儿科",
            ])),
            Arc::new(StringArray::from(vec![
                "cardiology",
                "cardiology",
                "cardiology",
                "pediatrics",
            ])),
            Arc::new(Int32Array::from(vec![0, 1, 2, 0])),
        ],
    )
    .unwrap();
    write(&dir.join("dim/departments.parquet"), d);
    let doctors = RecordBatch::try_new(
        doctors_schema(),
        vec![
            Arc::new(Int32Array::from(vec![0, 10, 20, 30])) as ArrayRef,
            Arc::new(Int32Array::from(vec![0, 1, 2, 3])),
        ],
    )
    .unwrap();
    write(&dir.join("dim/doctors.parquet"), doctors);
}

fn table<'a>(tables: &'a [Table], name: &str) -> &'a Table {
    tables.iter().find(|t| t.name == name).unwrap()
}

fn col(t: &Table, row: usize, name: &str) -> serde_json::Value {
    t.rows[row][t.columns.iter().position(|c| c == name).unwrap()].clone()
}

#[tokio::test]
async fn a_department_leading_every_component_scores_100_and_the_last_scores_0() {
    let dir = tempfile::tempdir().unwrap();
    dimensions(dir.path());
    events(
        dir.path(),
        2025,
        &[
            (0, 1, 100, None),
            (0, 2, 50, None),
            (0, 3, 40, None),
            (0, 4, 10, Some(5)),
            (1, 1, 10, None),
            (1, 2, 5, None),
            (1, 3, 4, None),
            (1, 4, 1, Some(4)),
            (2, 1, 1, None),
            (2, 2, 1, None),
            (2, 3, 1, None),
            (3, 1, 5, None),
        ],
    );
    events(
        dir.path(),
        2024,
        &[(1, 1, 100, None), (1, 2, 50, None), (2, 1, 5, None)],
    );
    let spec = IndexSpec {
        year: 2025,
        top_n: 2,
        weights: Weights::default(),
        min_reviews: 1,
    };
    let out = dir.path().join("out");
    let tables = influence_index(dir.path(), &spec, &out, |_| {})
        .await
        .unwrap();

    let listed = table(&tables, "listed_departments");
    assert_eq!(
        listed.rows.len(),
        3,
        "top 2 cardiology + the only pediatrics department"
    );
    assert_eq!(col(listed, 0, "specialty"), "cardiology");
    assert_eq!(col(listed, 0, "hospital_name"), "甲医院");
    assert_eq!(col(listed, 0, "idx"), 100.0);
    assert_eq!(col(listed, 1, "hospital_name"), "乙医院");
    let idx1 = col(listed, 1, "idx").as_f64().unwrap();
    assert!(idx1 > 0.0 && idx1 < 100.0);
    assert_eq!(col(listed, 2, "specialty"), "pediatrics");
    assert_eq!(col(listed, 2, "idx"), 100.0, "alone in its specialty");

    let counts = table(&tables, "counts");
    assert_eq!(
        counts.rows[0],
        serde_json::json!([3, 2, 2, 1, 2])
            .as_array()
            .unwrap()
            .clone()
    );
    let by_listed = table(&tables, "hospitals_by_listed_departments");
    assert_eq!(
        (
            col(by_listed, 0, "hospital_name"),
            col(by_listed, 0, "listed_departments")
        ),
        ("甲医院".into(), 2.into())
    );
    let entrants = table(&tables, "first_time_entrants");
    // 2024 listed 乙 and 丙 in cardiology; 甲 enters in 2025.
    assert_eq!(entrants.rows.len(), 1);
    assert_eq!(col(entrants, 0, "hospital_name"), "甲医院");
    let sat = table(&tables, "hospitals_by_satisfaction");
    assert_eq!(
        (col(sat, 0, "hospital_name"), col(sat, 0, "mean_rating")),
        ("甲医院".into(), 5.0.into())
    );
    let rise = table(&tables, "hospitals_by_index_rise");
    // Only 乙 and 丙 have both years: 乙 falls from 100 to ~36, 丙 from 45 to 0.
    assert_eq!(rise.rows.len(), 2);
    assert_eq!(col(rise, 0, "hospital_name"), "丙医院");
    assert_eq!(col(rise, 0, "rise"), serde_json::json!(-45.0));

    for f in [
        "report.json",
        "report.html",
        "listed_departments.csv",
        "queries.sql",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("甲医院"));
}

#[tokio::test]
async fn generated_data_is_deterministic_and_indexes_within_bounds() {
    let spec = GenSpec {
        seed: 7,
        hospitals: 30,
        first_year: 2024,
        years: 2,
        events: 60_000,
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    generate(&spec, a.path(), &|_| {}).unwrap();
    generate(&spec, b.path(), &|_| {}).unwrap();
    let f = "events/year=2025/month=06/part-0.parquet";
    assert_eq!(
        std::fs::read(a.path().join(f)).unwrap(),
        std::fs::read(b.path().join(f)).unwrap()
    );

    let index = IndexSpec {
        year: 2025,
        top_n: 3,
        weights: Weights::default(),
        min_reviews: 5,
    };
    let tables = influence_index(a.path(), &index, &a.path().join("out"), |_| {})
        .await
        .unwrap();
    let listed = table(&tables, "listed_departments");
    let mut per_specialty = std::collections::HashMap::new();
    for r in 0..listed.rows.len() {
        let idx = col(listed, r, "idx").as_f64().unwrap();
        assert!((0.0..=100.0).contains(&idx));
        *per_specialty
            .entry(col(listed, r, "specialty").to_string())
            .or_insert(0) += 1;
    }
    assert!(per_specialty.values().all(|n| *n <= 3));
    assert!(per_specialty.len() > 20, "most specialties appear");

    let ops = operations(
        a.path(),
        &OpsSpec {
            year: 2025,
            idle_below_per_day: 1.0,
        },
        &a.path().join("ops"),
        |_| {},
    )
    .await
    .unwrap();
    let growth = table(&ops, "growth_by_month");
    assert_eq!(growth.rows.len(), 24);
    let share = col(table(&ops, "doctor_participation"), 0, "share_active")
        .as_f64()
        .unwrap();
    assert!(share > 0.0 && share <= 1.0);
}
