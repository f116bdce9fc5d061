//! The event log schema shared by the platform export and the generator.
//!
//! Layout on disk (Hive-partitioned by date, one file per month):
//! ```text
//! <dir>/events/year=YYYY/month=MM/part-*.parquet   ts_ms, department_key, doctor_key, kind, rating
//! <dir>/dim/hospitals.parquet                     hospital_key, hospital_name, level, province, city
//! <dir>/dim/departments.parquet                   department_key, department_name, specialty, hospital_key
//! <dir>/dim/doctors.parquet                       doctor_key, department_key
//! ```
//! Integer keys keep the 100-million-row scans cheap; names live in the
//! small dimension files.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// The four kinds of behaviour the influence index rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i8)]
pub enum EventKind {
    /// A page view of a doctor's or department's page.
    Browse = 1,
    /// An online service: consultation, follow-up, prescription, ...
    Service = 2,
    /// One doctor-patient message.
    Exchange = 3,
    /// A post-visit review with a 1-5 rating.
    Review = 4,
}

pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts_ms", DataType::Int64, false),
        Field::new("department_key", DataType::Int32, false),
        Field::new("doctor_key", DataType::Int32, true),
        Field::new("kind", DataType::Int8, false),
        Field::new("rating", DataType::Int8, true),
    ]))
}

pub fn hospitals_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("hospital_key", DataType::Int32, false),
        Field::new("hospital_name", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, true),
        Field::new("province", DataType::Utf8, false),
        Field::new("city", DataType::Utf8, false),
    ]))
}

pub fn departments_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("department_key", DataType::Int32, false),
        Field::new("department_name", DataType::Utf8, false),
        Field::new("specialty", DataType::Utf8, false),
        Field::new("hospital_key", DataType::Int32, false),
    ]))
}

pub fn doctors_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("doctor_key", DataType::Int32, false),
        Field::new("department_key", DataType::Int32, false),
    ]))
}
