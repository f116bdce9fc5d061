//! The work behind `ihos index ...`: run, write JSON/CSV/HTML, report progress.

use std::path::Path;

use crate::engine::{self, Table};
use crate::influence::{self, IndexSpec};
use crate::report::{bar_chart, bars, html_table, page, write_tables};
use crate::{digital, ops};

/// The statements as one SQL script, for DuckDB, Ballista or Spark.
pub fn sql_script(statements: &[influence::Statement]) -> String {
    statements
        .iter()
        .map(|s| {
            if s.creates_table {
                format!("-- {}\nCREATE TABLE {} AS {};\n", s.name, s.name, s.sql)
            } else {
                format!("-- {}\n{};\n", s.name, s.sql)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub async fn influence_index(
    data: &Path,
    spec: &IndexSpec,
    out: &Path,
    step: impl FnMut(&str),
) -> anyhow::Result<Vec<Table>> {
    spec.weights
        .check()
        .map_err(|e| anyhow::anyhow!("influence index weights: {e}"))?;
    let statements = influence::statements(spec);
    let ctx = engine::context(data).await?;
    let tables = engine::run(&ctx, &statements, step).await?;
    let meta = serde_json::json!({"year": spec.year, "top_n": spec.top_n, "weights": spec.weights, "min_reviews": spec.min_reviews});
    write_tables(out, &tables, meta)?;
    std::fs::write(out.join("queries.sql"), sql_script(&statements))?;
    let find = |n: &str| tables.iter().find(|t| t.name == n);
    let mut body = String::new();
    if let Some(c) = find("counts") {
        body.push_str(&html_table(c, 1));
    }
    if let Some(t) = find("hospitals_by_listed_departments") {
        body.push_str(&bar_chart(
            "上榜科室数最多的医院 Hospitals by listed departments",
            &bars(t, "hospital_name", "listed_departments", 20),
        ));
    }
    if let Some(t) = find("distribution_by_city") {
        body.push_str(&bar_chart(
            "上榜科室的城市分布 Listed departments by city",
            &bars(t, "city", "listed_departments", 25),
        ));
    }
    if let Some(t) = find("hospitals_by_index_rise") {
        body.push_str(&bar_chart(
            "指数上升最快的医院 Largest rise of the index",
            &bars(t, "hospital_name", "rise", 20),
        ));
    }
    for name in [
        "listed_departments",
        "hospitals_by_service_volume",
        "hospitals_by_satisfaction",
        "first_time_entrants",
    ] {
        if let Some(t) = find(name) {
            body.push_str(&html_table(t, 200));
        }
    }
    std::fs::write(
        out.join("report.html"),
        page(&format!("{} 年医院互联网影响力指数", spec.year), &body),
    )?;
    Ok(tables)
}

pub async fn operations(
    data: &Path,
    spec: &ops::OpsSpec,
    out: &Path,
    step: impl FnMut(&str),
) -> anyhow::Result<Vec<Table>> {
    let statements = ops::statements(spec);
    let ctx = engine::context(data).await?;
    let tables = engine::run(&ctx, &statements, step).await?;
    write_tables(
        out,
        &tables,
        serde_json::json!({"year": spec.year, "idle_below_per_day": spec.idle_below_per_day}),
    )?;
    std::fs::write(out.join("queries.sql"), sql_script(&statements))?;
    let mut body = String::new();
    if let Some(t) = tables.iter().find(|t| t.name == "growth_by_month") {
        let bars: Vec<(String, f64)> = t
            .rows
            .iter()
            .map(|r| {
                (
                    format!("{}-{:02}", r[0], r[1].as_i64().unwrap_or_default()),
                    r[2].as_f64().unwrap_or_default(),
                )
            })
            .collect();
        body.push_str(&bar_chart("每月线上服务量 Online services by month", &bars));
    }
    for t in &tables {
        body.push_str(&html_table(t, 100));
    }
    std::fs::write(
        out.join("report.html"),
        page(&format!("{} 年互联网医院运营报告", spec.year), &body),
    )?;
    Ok(tables)
}

pub fn digital_index(
    csv_path: &Path,
    config_path: &Path,
    out: &Path,
) -> anyhow::Result<digital::DigitalIndex> {
    let config = digital::Config::load(config_path)?;
    let text = std::fs::read_to_string(csv_path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", csv_path.display()))?;
    let rows = digital::read_csv(&text, &config)?;
    let idx = digital::compute(&rows, &config)?;
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("digital_index.json"),
        serde_json::to_string_pretty(&idx)?,
    )?;
    let mut csv_out = String::from("rank,city,province,score,tier");
    for i in &config.indicators {
        csv_out.push(',');
        csv_out.push_str(&i.code);
    }
    csv_out.push('\n');
    for c in &idx.cities {
        csv_out.push_str(&format!(
            "{},{},{},{:.2},{}",
            c.rank, c.city, c.province, c.score, c.tier
        ));
        for i in &config.indicators {
            csv_out.push_str(&format!(",{:.2}", c.indicators[&i.code]));
        }
        csv_out.push('\n');
    }
    std::fs::write(out.join("digital_index.csv"), csv_out)?;
    let mut body = format!(
        "<p>均值 mean {:.1} · 最高 max {:.1} · 最低 min {:.1} · 梯队 tiers {:?}</p>",
        idx.mean, idx.max, idx.min, idx.tier_sizes
    );
    body.push_str(&bar_chart(
        "城市得分 City scores",
        &idx.cities
            .iter()
            .take(40)
            .map(|c| (c.city.clone(), c.score))
            .collect::<Vec<_>>(),
    ));
    body.push_str(&bar_chart(
        "区域集群加权得分 Regional clusters",
        &idx.clusters
            .iter()
            .map(|c| (c.name.clone(), c.weighted_score))
            .collect::<Vec<_>>(),
    ));
    body.push_str("<h2>单项突出城市 Single-indicator highlights</h2><ul>");
    for h in &idx.highlights {
        body.push_str(&format!(
            "<li>{}：总排名第 {} 名，{} 排名第 {} 名</li>",
            crate::report::escape(&h.city),
            h.overall_rank,
            crate::report::escape(&h.indicator),
            h.indicator_rank
        ));
    }
    body.push_str("</ul>");
    std::fs::write(
        out.join("digital_index.html"),
        page("城市医疗数字化指数", &body),
    )?;
    Ok(idx)
}
