//! Runs the SQL statements with DataFusion over the Parquet layout of
//! `model.rs`, and turns result batches into plain rows.

use std::path::Path;

use datafusion::arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use serde::Serialize;

use crate::influence::Statement;

/// A report table: column names and JSON-typed cells.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

pub async fn context(data: &Path) -> anyhow::Result<SessionContext> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_batch_size(64 * 1024)
        .set_bool("datafusion.execution.parquet.pushdown_filters", false);
    let ctx = SessionContext::new_with_config(config);
    let events = data.join("events");
    if !events.is_dir() {
        anyhow::bail!(
            "no event log at {} (run `ihos index generate` or `ihos index export` first)",
            events.display()
        );
    }
    let opts = ParquetReadOptions::default().table_partition_cols(vec![
        ("year".to_string(), DataType::Int32),
        ("month".to_string(), DataType::Int32),
    ]);
    ctx.register_parquet("events", path_str(&events)?, opts)
        .await?;
    for dim in ["hospitals", "departments", "doctors"] {
        let file = data.join("dim").join(format!("{dim}.parquet"));
        ctx.register_parquet(dim, path_str(&file)?, ParquetReadOptions::default())
            .await?;
    }
    Ok(ctx)
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow::anyhow!("path is not UTF-8: {}", p.display()))
}

/// Run `statements` in order: tables are created in memory, queries collected.
pub async fn run(
    ctx: &SessionContext,
    statements: &[Statement],
    mut step: impl FnMut(&str),
) -> anyhow::Result<Vec<Table>> {
    let mut out = Vec::new();
    for s in statements {
        step(s.name);
        if s.creates_table {
            ctx.sql(&format!("CREATE TABLE {} AS {}", s.name, s.sql))
                .await?
                .collect()
                .await?;
        } else {
            let batches = ctx.sql(&s.sql).await?.collect().await?;
            out.push(to_table(s.name, &batches)?);
        }
    }
    Ok(out)
}

pub fn to_table(name: &str, batches: &[RecordBatch]) -> anyhow::Result<Table> {
    let columns = batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()
        })
        .unwrap_or_default();
    let mut rows = Vec::new();
    for b in batches {
        let cols: Vec<Vec<serde_json::Value>> = b
            .columns()
            .iter()
            .map(|c| json_cells(c.as_ref()))
            .collect::<anyhow::Result<_>>()?;
        for r in 0..b.num_rows() {
            rows.push(cols.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok(Table {
        name: name.to_string(),
        columns,
        rows,
    })
}

fn json_cells(col: &dyn Array) -> anyhow::Result<Vec<serde_json::Value>> {
    use serde_json::Value;
    let dt = col.data_type();
    let cells = if dt.is_integer() {
        let a = cast(col, &DataType::Int64)?;
        let a = a
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or_else(|| anyhow::anyhow!("cast"))?;
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    Value::Null
                } else {
                    Value::from(a.value(i))
                }
            })
            .collect()
    } else if dt.is_floating() || matches!(dt, DataType::Decimal128(..)) {
        let a = cast(col, &DataType::Float64)?;
        let a = a
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| anyhow::anyhow!("cast"))?;
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    Value::Null
                } else {
                    Value::from(a.value(i))
                }
            })
            .collect()
    } else {
        let a = cast(col, &DataType::Utf8)?;
        let a = a
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| anyhow::anyhow!("cast"))?;
        (0..a.len())
            .map(|i| {
                if a.is_null(i) {
                    Value::Null
                } else {
                    Value::from(a.value(i))
                }
            })
            .collect()
    };
    Ok(cells)
}

/// CSV text of a table (RFC 4180 quoting).
pub fn csv(t: &Table) -> String {
    let cell = |v: &serde_json::Value| {
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let mut out = t.columns.join(",");
    out.push('\n');
    for r in &t.rows {
        out.push_str(&r.iter().map(cell).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
