//! Analytics for ihos, kept out of the server build: the hospital internet
//! influence index and operations reports (DataFusion over Hive-partitioned
//! Parquet), the city medical digitalisation index (plain Rust over a CSV),
//! and a deterministic generator of synthetic events.

pub mod commands;
pub mod digital;
pub mod engine;
pub mod export;
pub mod generate;
pub mod influence;
pub mod model;
pub mod ops;
pub mod report;
