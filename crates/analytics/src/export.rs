//! Writers for the Parquet layout of `model.rs`, used by `ihos index export`
//! to turn the platform's event table into the analytics event log.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use datafusion::arrow::array::{ArrayRef, Int8Array, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

use crate::generate::write_parquet;
use crate::model::{departments_schema, doctors_schema, events_schema, hospitals_schema};

pub struct HospitalDim {
    pub name: String,
    pub level: Option<String>,
    pub province: String,
    pub city: String,
}

pub struct DepartmentDim {
    pub name: String,
    pub specialty: String,
    pub hospital_key: i32,
}

/// Write the dimension files; keys are the positions in the slices.
pub fn write_dimensions(
    dir: &Path,
    hospitals: &[HospitalDim],
    departments: &[DepartmentDim],
    doctor_departments: &[i32],
) -> anyhow::Result<()> {
    let h = RecordBatch::try_new(
        hospitals_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(0..hospitals.len() as i32)) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                hospitals.iter().map(|x| x.name.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                hospitals.iter().map(|x| x.level.as_deref()),
            )),
            Arc::new(StringArray::from_iter_values(
                hospitals.iter().map(|x| x.province.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                hospitals.iter().map(|x| x.city.as_str()),
            )),
        ],
    )?;
    write_parquet(&dir.join("dim/hospitals.parquet"), &h)?;
    let d = RecordBatch::try_new(
        departments_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(0..departments.len() as i32)) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                departments.iter().map(|x| x.name.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                departments.iter().map(|x| x.specialty.as_str()),
            )),
            Arc::new(Int32Array::from_iter_values(
                departments.iter().map(|x| x.hospital_key),
            )),
        ],
    )?;
    write_parquet(&dir.join("dim/departments.parquet"), &d)?;
    let doc = RecordBatch::try_new(
        doctors_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(
                0..doctor_departments.len() as i32,
            )) as ArrayRef,
            Arc::new(Int32Array::from(doctor_departments.to_vec())),
        ],
    )?;
    write_parquet(&dir.join("dim/doctors.parquet"), &doc)?;
    Ok(())
}

#[derive(Default)]
struct Columns {
    ts: Vec<i64>,
    department: Vec<i32>,
    doctor: Vec<Option<i32>>,
    kind: Vec<i8>,
    rating: Vec<Option<i8>>,
}

/// Appends time-ordered events, one Parquet file per (year, month).
pub struct EventLogWriter {
    dir: PathBuf,
    current: Option<((i32, u32), ArrowWriter<File>)>,
    buf: Columns,
    pub written: u64,
}

impl EventLogWriter {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            current: None,
            buf: Default::default(),
            written: 0,
        }
    }

    pub fn push(
        &mut self,
        ts_ms: i64,
        department_key: i32,
        doctor_key: Option<i32>,
        kind: i8,
        rating: Option<i8>,
    ) -> anyhow::Result<()> {
        let t = Utc
            .timestamp_millis_opt(ts_ms)
            .single()
            .ok_or_else(|| anyhow::anyhow!("bad timestamp {ts_ms}"))?;
        let month = (t.year(), t.month());
        if self.current.as_ref().map(|c| c.0) != Some(month) {
            self.finish_month()?;
            let path = self.dir.join(format!(
                "events/year={}/month={:02}/part-0.parquet",
                month.0, month.1
            ));
            if let Some(d) = path.parent() {
                std::fs::create_dir_all(d)?;
            }
            self.current = Some((
                month,
                ArrowWriter::try_new(File::create(path)?, events_schema(), None)?,
            ));
        }
        self.buf.ts.push(ts_ms);
        self.buf.department.push(department_key);
        self.buf.doctor.push(doctor_key);
        self.buf.kind.push(kind);
        self.buf.rating.push(rating);
        if self.buf.ts.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        let Some((_, w)) = self.current.as_mut() else {
            return Ok(());
        };
        if self.buf.ts.is_empty() {
            return Ok(());
        }
        let Columns {
            ts,
            department: dept,
            doctor: doc,
            kind,
            rating,
        } = std::mem::take(&mut self.buf);
        self.written += ts.len() as u64;
        let batch = RecordBatch::try_new(
            events_schema(),
            vec![
                Arc::new(Int64Array::from(ts)) as ArrayRef,
                Arc::new(Int32Array::from(dept)),
                Arc::new(Int32Array::from(doc)),
                Arc::new(Int8Array::from(kind)),
                Arc::new(Int8Array::from(rating)),
            ],
        )?;
        w.write(&batch)?;
        Ok(())
    }

    fn finish_month(&mut self) -> anyhow::Result<()> {
        self.flush()?;
        if let Some((_, w)) = self.current.take() {
            w.close()?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> anyhow::Result<u64> {
        self.finish_month()?;
        Ok(self.written)
    }
}
