//! Deterministic synthetic events at scale: hundreds of hospitals, thousands
//! of departments across the 36 specialties, skewed (Zipf-like) popularity,
//! yearly growth, several years. The same seed gives the same files.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::array::{ArrayRef, Int8Array, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use ihos_domain::org::SPECIALTIES;

use crate::model::{
    EventKind, departments_schema, doctors_schema, events_schema, hospitals_schema,
};

/// SplitMix64: tiny, fast and stable across versions (unlike library RNGs).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

#[derive(Debug, Clone)]
pub struct GenSpec {
    pub seed: u64,
    pub hospitals: usize,
    pub first_year: i32,
    pub years: i32,
    pub events: u64,
}

impl Default for GenSpec {
    fn default() -> Self {
        Self {
            seed: 2016,
            hospitals: 300,
            first_year: 2022,
            years: 4,
            events: 1_000_000,
        }
    }
}

const PROVINCES: &[(&str, &[&str])] = &[
    ("北京市", &["北京市"]),
    ("上海市", &["上海市"]),
    ("天津市", &["天津市"]),
    ("重庆市", &["重庆市"]),
    ("广东省", &["广州市", "深圳市", "佛山市", "东莞市"]),
    ("浙江省", &["杭州市", "宁波市", "温州市"]),
    ("江苏省", &["南京市", "苏州市", "无锡市"]),
    ("四川省", &["成都市", "绵阳市"]),
    ("湖北省", &["武汉市", "宜昌市"]),
    ("湖南省", &["长沙市"]),
    ("山东省", &["济南市", "青岛市"]),
    ("河南省", &["郑州市"]),
    ("陕西省", &["西安市"]),
    ("福建省", &["福州市", "厦门市"]),
    ("辽宁省", &["沈阳市", "大连市"]),
    ("黑龙江省", &["哈尔滨市"]),
    ("吉林省", &["长春市"]),
    ("安徽省", &["合肥市"]),
    ("河北省", &["石家庄市"]),
    ("云南省", &["昆明市"]),
    ("广西壮族自治区", &["南宁市"]),
    ("江西省", &["南昌市"]),
    ("山西省", &["太原市"]),
    ("贵州省", &["贵阳市"]),
    ("新疆维吾尔自治区", &["乌鲁木齐市"]),
    ("甘肃省", &["兰州市"]),
    ("海南省", &["海口市"]),
];

/// The generated dimension: who exists, and how popular each department is.
pub struct World {
    pub hospitals: Vec<(String, String, String, String)>,
    /// (name, specialty, hospital_key)
    pub departments: Vec<(String, &'static str, i32)>,
    /// Cumulative popularity for sampling a department.
    pub cumulative: Vec<f64>,
    /// Mean rating of each department (1-5).
    pub quality: Vec<f64>,
    /// First doctor key and doctor count of each department.
    pub doctors: Vec<(i32, i32)>,
    /// The year each hospital went online (first-time entrants appear later).
    pub online_from: Vec<i32>,
}

pub fn world(spec: &GenSpec) -> World {
    let mut rng = Rng::new(spec.seed);
    let mut hospitals = Vec::new();
    let mut departments = Vec::new();
    let mut weights = Vec::new();
    let mut quality = Vec::new();
    let mut doctors = Vec::new();
    let mut online_from = Vec::new();
    let mut next_doctor = 0i32;
    for h in 0..spec.hospitals {
        let (province, cities) = PROVINCES[rng.below(PROVINCES.len() as u64) as usize];
        let city = cities[rng.below(cities.len() as u64) as usize];
        let level = if rng.unit() < 0.7 {
            "三级甲等"
        } else {
            "二级甲等"
        };
        hospitals.push((
            format!("{city}第{}医院", h + 1),
            level.to_string(),
            province.to_string(),
            city.to_string(),
        ));
        // Hospital reach: a few very strong hospitals, a long tail.
        let reach = 1.0 / ((h + 1) as f64).powf(0.8);
        let first = spec.first_year
            + (rng.below(100) < 15) as i32 * (1 + rng.below(spec.years.max(1) as u64 - 1) as i32);
        online_from.push(first);
        let n_depts = 5 + rng.below(26) as usize;
        let mut taken = [false; 36];
        for _ in 0..n_depts {
            let s = rng.below(36) as usize;
            if std::mem::replace(&mut taken[s], true) {
                continue;
            }
            let (code, zh, _) = SPECIALTIES[s];
            departments.push((zh.to_string(), code, h as i32));
            weights.push(reach * (0.2 + rng.unit()).powi(3));
            quality.push(3.0 + 2.0 * rng.unit());
            let n_doc = 3 + rng.below(18) as i32;
            doctors.push((next_doctor, n_doc));
            next_doctor += n_doc;
        }
    }
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let cumulative = weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect();
    World {
        hospitals,
        departments,
        cumulative,
        quality,
        doctors,
        online_from,
    }
}

pub(crate) fn write_parquet(path: &Path, batch: &RecordBatch) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut w = ArrowWriter::try_new(File::create(path)?, batch.schema(), Some(props))?;
    w.write(batch)?;
    w.close()?;
    Ok(())
}

pub fn write_dimensions(world: &World, dir: &Path) -> anyhow::Result<()> {
    let h = &world.hospitals;
    let hospitals = RecordBatch::try_new(
        hospitals_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(0..h.len() as i32)) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                h.iter().map(|x| x.0.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                h.iter().map(|x| x.1.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                h.iter().map(|x| x.2.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                h.iter().map(|x| x.3.as_str()),
            )),
        ],
    )?;
    write_parquet(&dir.join("dim/hospitals.parquet"), &hospitals)?;
    let d = &world.departments;
    let departments = RecordBatch::try_new(
        departments_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(0..d.len() as i32)) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                d.iter().map(|x| x.0.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(d.iter().map(|x| x.1))),
            Arc::new(Int32Array::from_iter_values(d.iter().map(|x| x.2))),
        ],
    )?;
    write_parquet(&dir.join("dim/departments.parquet"), &departments)?;
    let mut doc_keys = Vec::new();
    let mut doc_depts = Vec::new();
    for (dept, (first, n)) in world.doctors.iter().enumerate() {
        for k in *first..first + n {
            doc_keys.push(k);
            doc_depts.push(dept as i32);
        }
    }
    let doctors = RecordBatch::try_new(
        doctors_schema(),
        vec![
            Arc::new(Int32Array::from(doc_keys)) as ArrayRef,
            Arc::new(Int32Array::from(doc_depts)),
        ],
    )?;
    write_parquet(&dir.join("dim/doctors.parquet"), &doctors)?;
    Ok(())
}

/// Events per month: growing about 35% a year.
fn month_counts(spec: &GenSpec) -> Vec<(i32, u32, u64)> {
    let months: Vec<(i32, u32, f64)> = (0..spec.years)
        .flat_map(|y| {
            (1..=12).map(move |m| {
                (
                    spec.first_year + y,
                    m,
                    1.35f64.powi(y) * (1.0 + 0.02 * f64::from(m)),
                )
            })
        })
        .collect();
    let total: f64 = months.iter().map(|m| m.2).sum();
    let mut out: Vec<(i32, u32, u64)> = months
        .iter()
        .map(|(y, m, w)| (*y, *m, (spec.events as f64 * w / total) as u64))
        .collect();
    let short = spec.events - out.iter().map(|m| m.2).sum::<u64>();
    if let Some(last) = out.last_mut() {
        last.2 += short;
    }
    out
}

fn month_start_ms(year: i32, month: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(0, |t| t.and_utc().timestamp_millis())
}

fn generate_month(
    world: &World,
    spec: &GenSpec,
    year: i32,
    month: u32,
    count: u64,
    dir: &Path,
) -> anyhow::Result<()> {
    let mut rng = Rng::new(
        spec.seed ^ ((year as u64) << 8 | u64::from(month)).wrapping_mul(0x2545_F491_4F6C_DD1D),
    );
    let start = month_start_ms(year, month);
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let span = (month_start_ms(ny, nm) - start) as u64;
    let path = dir.join(format!(
        "events/year={year}/month={month:02}/part-0.parquet"
    ));
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d)?;
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let mut w = ArrowWriter::try_new(File::create(&path)?, events_schema(), Some(props))?;
    let mut left = count;
    while left > 0 {
        let n = left.min(1 << 20) as usize;
        left -= n as u64;
        let mut ts = Vec::with_capacity(n);
        let mut dept = Vec::with_capacity(n);
        let mut doctor = Vec::with_capacity(n);
        let mut kind = Vec::with_capacity(n);
        let mut rating = Vec::with_capacity(n);
        while ts.len() < n {
            let u = rng.unit();
            let d = world
                .cumulative
                .partition_point(|c| *c < u)
                .min(world.departments.len() - 1);
            if world.online_from[world.departments[d].2 as usize] > year {
                continue;
            }
            let k = rng.unit();
            let (kd, r) = if k < 0.70 {
                (EventKind::Browse, None)
            } else if k < 0.82 {
                (EventKind::Service, None)
            } else if k < 0.97 {
                (EventKind::Exchange, None)
            } else {
                let q = world.quality[d] + (rng.unit() - 0.5) * 2.0;
                (EventKind::Review, Some(q.round().clamp(1.0, 5.0) as i8))
            };
            let (first, nd) = world.doctors[d];
            ts.push(start + rng.below(span) as i64);
            dept.push(d as i32);
            doctor.push(if kd == EventKind::Browse && rng.unit() < 0.3 {
                None
            } else {
                Some(first + rng.below(nd as u64) as i32)
            });
            kind.push(kd as i8);
            rating.push(r);
        }
        let batch = RecordBatch::try_new(
            events_schema(),
            vec![
                Arc::new(Int64Array::from(ts)) as ArrayRef,
                Arc::new(Int32Array::from(dept)),
                Arc::new(Int32Array::from(doctor)),
                Arc::new(Int8Array::from(kind)),
                Arc::new(Int8Array::from(rating)),
            ],
        )?;
        w.write(&batch)?;
    }
    w.close()?;
    Ok(())
}

/// Write dimensions and `spec.events` events under `dir`, months in parallel.
pub fn generate(
    spec: &GenSpec,
    dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<World> {
    let world = world(spec);
    write_dimensions(&world, dir)?;
    let months = month_counts(spec);
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((y, m, n)) = months.get(i) else {
                            return Ok(());
                        };
                        generate_month(&world, spec, *y, *m, *n, dir)?;
                        progress(*n);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("generator thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(world)
}
