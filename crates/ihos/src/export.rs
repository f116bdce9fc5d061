//! `ihos index export`: the platform's behaviour events to the analytics
//! Parquet layout (ids become integer keys; names go to the dimension files).

use std::collections::HashMap;
use std::path::Path;

use ihos_analytics::export::{DepartmentDim, EventLogWriter, HospitalDim, write_dimensions};
use ihos_store::{Store, events};

pub struct Exported {
    pub events: u64,
    pub skipped_without_department: u64,
    pub departments: usize,
}

pub async fn export(store: &Store, out: &Path, progress: impl Fn(u64)) -> anyhow::Result<Exported> {
    let mut conn = store.conn().await?;
    let dims = events::department_dims(&mut conn).await?;
    let mut hospital_keys: HashMap<String, i32> = HashMap::new();
    let mut hospitals = Vec::new();
    let mut department_keys = HashMap::new();
    let mut departments = Vec::new();
    for d in &dims {
        let hk = *hospital_keys.entry(d.org_id.clone()).or_insert_with(|| {
            hospitals.push(HospitalDim {
                name: d.org_name.clone(),
                level: d.level.clone(),
                province: d.province.clone(),
                city: d.city.clone(),
            });
            hospitals.len() as i32 - 1
        });
        department_keys.insert(d.department_id.clone(), departments.len() as i32);
        departments.push(DepartmentDim {
            name: d.department_name.clone(),
            specialty: d.specialty.clone(),
            hospital_key: hk,
        });
    }
    let mut doctor_keys = HashMap::new();
    let mut doctor_departments = Vec::new();
    for (doctor, dept) in events::doctor_departments(&mut conn).await? {
        if doctor_keys.contains_key(&doctor) {
            continue; // the first row is the primary affiliation
        }
        if let Some(dk) = department_keys.get(&dept) {
            doctor_keys.insert(doctor, doctor_departments.len() as i32);
            doctor_departments.push(*dk);
        }
    }
    write_dimensions(out, &hospitals, &departments, &doctor_departments)?;

    let mut writer = EventLogWriter::new(out);
    let mut skipped = 0;
    let (mut at, mut id) = (i64::MIN, String::new());
    loop {
        let page = events::page_after(&mut conn, at, &id, 50_000).await?;
        let Some(last) = page.last() else { break };
        (at, id) = (last.at, last.id.clone());
        for e in &page {
            // Hospital-page views carry no department and do not enter the department index.
            let Some(dk) = e
                .department_id
                .as_ref()
                .and_then(|d| department_keys.get(d))
            else {
                skipped += 1;
                continue;
            };
            let doctor = e
                .practitioner_id
                .as_ref()
                .and_then(|p| doctor_keys.get(p))
                .copied();
            writer.push(e.at, *dk, doctor, e.kind as i8, e.rating.map(|r| r as i8))?;
        }
        progress(page.len() as u64);
    }
    let written = writer.finish()?;
    Ok(Exported {
        events: written,
        skipped_without_department: skipped,
        departments: departments.len(),
    })
}
