//! Output: JSON, one CSV per table, and a self-contained HTML report with
//! server-rendered SVG charts (no scripts, no external assets).

use std::fmt::Write as _;
use std::path::Path;

use crate::engine::{Table, csv};

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart of (label, value) pairs.
pub fn bar_chart(title: &str, bars: &[(String, f64)]) -> String {
    let max = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1e-9);
    let row = 22;
    let h = 30 + row * bars.len();
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"720\" height=\"{h}\" role=\"img\">",
        escape(title)
    );
    for (i, (label, v)) in bars.iter().enumerate() {
        let y = 10 + i * row;
        let w = (v / max * 440.0).max(1.0);
        let _ = write!(
            svg,
            "<text x=\"190\" y=\"{ty}\" text-anchor=\"end\" font-size=\"12\">{l}</text>\
             <rect x=\"200\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"#0b6bcb\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\" font-size=\"12\">{v}</text>",
            ty = y + 12,
            l = escape(label),
            tx = 205.0 + w,
            v = if v.fract() == 0.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.2}")
            },
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

pub fn html_table(t: &Table, limit: usize) -> String {
    let mut s = format!("<h2>{}</h2><table><thead><tr>", escape(&t.name));
    for c in &t.columns {
        let _ = write!(s, "<th>{}</th>", escape(c));
    }
    s.push_str("</tr></thead><tbody>");
    for r in t.rows.iter().take(limit) {
        s.push_str("<tr>");
        for v in r {
            let text = match v {
                serde_json::Value::String(x) => x.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            let _ = write!(s, "<td>{}</td>", escape(&text));
        }
        s.push_str("</tr>");
    }
    if t.rows.len() > limit {
        let _ = write!(
            s,
            "<tr><td colspan=\"{}\">… {} more rows in the CSV</td></tr>",
            t.columns.len(),
            t.rows.len() - limit
        );
    }
    s.push_str("</tbody></table>");
    s
}

pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font:14px/1.5 \"Noto Sans CJK SC\",\"PingFang SC\",sans-serif;max-width:980px;margin:2rem auto;color:#1d2733}}\
         table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}}th,td{{border-bottom:1px solid #e4e7ec;padding:.3rem .5rem;text-align:left}}\
         figure{{margin:1rem 0}}figcaption{{font-weight:600}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

/// Column `col` of `t` as chart bars labelled by column `label`.
pub fn bars(t: &Table, label: &str, col: &str, limit: usize) -> Vec<(String, f64)> {
    let li = t.columns.iter().position(|c| c == label);
    let vi = t.columns.iter().position(|c| c == col);
    let (Some(li), Some(vi)) = (li, vi) else {
        return Vec::new();
    };
    t.rows
        .iter()
        .take(limit)
        .map(|r| {
            (
                r[li].as_str().unwrap_or_default().to_string(),
                r[vi].as_f64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Write `<out>/<name>.csv` for every table and `<out>/report.json`.
pub fn write_tables(out: &Path, tables: &[Table], meta: serde_json::Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    for t in tables {
        std::fs::write(out.join(format!("{}.csv", t.name)), csv(t))?;
    }
    let json = serde_json::json!({ "meta": meta, "tables": tables });
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_labels_and_scale_bars() {
        let svg = bar_chart("<x>", &[("a&b".into(), 10.0), ("c".into(), 5.0)]);
        assert!(svg.contains("&lt;x&gt;") && svg.contains("a&amp;b"));
        assert!(svg.contains("width=\"440.0\"") && svg.contains("width=\"220.0\""));
    }
}
