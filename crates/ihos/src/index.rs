//! `ihos index ...`: the analytics commands, with progress bars on long runs.

use std::path::PathBuf;
use std::time::Instant;

use clap::Subcommand;
use ihos_analytics::commands;
use ihos_analytics::generate::{GenSpec, generate};
use ihos_analytics::influence::{IndexSpec, Weights};
use ihos_analytics::ops::OpsSpec;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand)]
pub enum IndexCommand {
    /// Export the platform's behaviour events to Hive-partitioned Parquet.
    Export {
        #[arg(long)]
        out: PathBuf,
    },
    /// Generate deterministic synthetic events (Hive-partitioned Parquet).
    Generate {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 300)]
        hospitals: usize,
        #[arg(long, default_value_t = 2022)]
        first_year: i32,
        #[arg(long, default_value_t = 4)]
        years: i32,
        #[arg(long, default_value_t = 2016)]
        seed: u64,
    },
    /// Hospital internet influence index for one year.
    Influence {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        year: i32,
        #[arg(long)]
        out: PathBuf,
        /// Departments listed per specialty.
        #[arg(long, default_value_t = 10)]
        top: u32,
        /// Component weights browse,service,exchange,review (sum 1).
        #[arg(long, default_value = "0.2,0.35,0.25,0.2")]
        weights: String,
        #[arg(long, default_value_t = 30)]
        min_reviews: u32,
    },
    /// City medical digitalisation index from a CSV and an indicator config.
    Digital {
        #[arg(long)]
        csv: PathBuf,
        #[arg(long, default_value = "config/digital-index.toml")]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Operations report: services per hospital per day, idle hospitals, doctor participation, growth.
    Ops {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        year: i32,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1.0)]
        idle_below_per_day: f64,
    },
}

fn parse_weights(s: &str) -> anyhow::Result<Weights> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| {
            x.trim()
                .parse::<f64>()
                .map_err(|_| anyhow::anyhow!("--weights: '{x}' is not a number"))
        })
        .collect::<Result<_, _>>()?;
    let [browse, service, exchange, review] = v[..] else {
        anyhow::bail!("--weights takes four numbers: browse,service,exchange,review");
    };
    Ok(Weights {
        browse,
        service,
        exchange,
        review,
    })
}

fn spinner(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub async fn run(cmd: IndexCommand, settings: ihos_server::Settings) -> anyhow::Result<()> {
    let started = Instant::now();
    match cmd {
        IndexCommand::Export { out } => {
            let state = ihos_server::build_state(settings).await?;
            let bar = spinner(0);
            bar.set_message("events");
            let done = crate::export::export(&state.store, &out, |n| bar.inc(n)).await?;
            bar.finish_and_clear();
            println!(
                "exported {} events over {} departments to {} ({} hospital-page views without a department left out)",
                done.events,
                done.departments,
                out.display(),
                done.skipped_without_department
            );
        }
        IndexCommand::Generate {
            out,
            events,
            hospitals,
            first_year,
            years,
            seed,
        } => {
            let spec = GenSpec {
                seed,
                hospitals,
                first_year,
                years,
                events,
            };
            let bar = spinner(events);
            bar.set_message("events");
            let world = generate(&spec, &out, &|n| bar.inc(n))?;
            bar.finish();
            println!(
                "wrote {events} events for {} hospitals, {} departments in {:.1} s to {}",
                world.hospitals.len(),
                world.departments.len(),
                started.elapsed().as_secs_f64(),
                out.display()
            );
        }
        IndexCommand::Influence {
            data,
            year,
            out,
            top,
            weights,
            min_reviews,
        } => {
            let spec = IndexSpec {
                year,
                top_n: top,
                weights: parse_weights(&weights)?,
                min_reviews,
            };
            let bar = spinner(ihos_analytics::influence::statements(&spec).len() as u64);
            let tables = commands::influence_index(&data, &spec, &out, |name| {
                bar.set_message(name.to_string());
                bar.inc(1);
            })
            .await?;
            bar.finish_and_clear();
            let counts = tables.iter().find(|t| t.name == "counts");
            println!(
                "influence index {year}: {} in {:.2} s; report in {}",
                counts
                    .map(|c| format!("{:?} = {:?}", c.columns, c.rows.first()))
                    .unwrap_or_default(),
                started.elapsed().as_secs_f64(),
                out.display()
            );
        }
        IndexCommand::Digital { csv, config, out } => {
            let idx = commands::digital_index(&csv, &config, &out)?;
            println!(
                "{} cities scored: mean {:.1}, max {:.1}, min {:.1}; report in {}",
                idx.cities.len(),
                idx.mean,
                idx.max,
                idx.min,
                out.display()
            );
        }
        IndexCommand::Ops {
            data,
            year,
            out,
            idle_below_per_day,
        } => {
            let spec = OpsSpec {
                year,
                idle_below_per_day,
            };
            let bar = spinner(ihos_analytics::ops::statements(&spec).len() as u64);
            commands::operations(&data, &spec, &out, |name| {
                bar.set_message(name.to_string());
                bar.inc(1);
            })
            .await?;
            bar.finish_and_clear();
            println!(
                "operations report {year} in {:.2} s: {}",
                started.elapsed().as_secs_f64(),
                out.display()
            );
        }
    }
    Ok(())
}
