//! DICOM files: parse and check an uploaded instance, extract the index
//! attributes and DICOM JSON metadata, render a frame to PNG, and make
//! synthetic instances (tests, demo, benchmark).

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, FileMetaTableBuilder, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use ihos_domain::ErrorCode;
use ihos_domain::imaging::valid_uid;

/// Why an upload is not a DICOM instance we can store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// The attributes of one instance that the index needs.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub sop_class_uid: String,
    pub transfer_syntax: String,
    pub patient_id: String,
    pub other_patient_ids: Vec<String>,
    pub patient_name: String,
    pub study_date: String,
    pub study_time: String,
    pub accession_number: String,
    pub study_description: String,
    pub referring_physician: String,
    pub modality: String,
    pub series_number: Option<i64>,
    pub series_description: String,
    pub instance_number: Option<i64>,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
    pub frames: i64,
    /// DICOM JSON of the data set without bulk pixel data.
    pub metadata: String,
}

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
        .unwrap_or_default()
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag).and_then(|e| e.to_int::<i64>().ok())
}

/// Strip a Part 10 preamble if there is one.
fn body(bytes: &[u8]) -> &[u8] {
    if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        &bytes[128..]
    } else {
        bytes
    }
}

/// Read a whole DICOM Part 10 file from memory.
pub fn read(bytes: &[u8]) -> Result<DefaultDicomObject, Refusal> {
    let b = body(bytes);
    if b.len() < 4 || &b[..4] != b"DICM" {
        return Err(refuse(
            ErrorCode::NotDicom,
            "This is not a DICOM Part 10 file (no 'DICM' marker after the 128-byte preamble).",
        ));
    }
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(b)
        .map_err(|e| {
            refuse(
                ErrorCode::InvalidDicom,
                format!("The DICOM file cannot be read (truncated or malformed): {e}"),
            )
        })
}

/// Parse and check an uploaded instance.
pub fn parse(bytes: &[u8]) -> Result<Parsed, Refusal> {
    let file = read(bytes)?;
    let transfer_syntax = file
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let obj = file.into_inner();
    let uid = |tag: Tag, name: &str| -> Result<String, Refusal> {
        let v = text(&obj, tag);
        if valid_uid(&v) {
            Ok(v)
        } else if v.is_empty() {
            Err(refuse(
                ErrorCode::MissingUid,
                format!("The instance has no {name}; every instance needs one."),
            ))
        } else {
            Err(refuse(
                ErrorCode::InvalidUid,
                format!("{name} '{v}' is not a valid DICOM UID (digits and dots, at most 64)."),
            ))
        }
    };
    let study_uid = uid(tags::STUDY_INSTANCE_UID, "StudyInstanceUID")?;
    let series_uid = uid(tags::SERIES_INSTANCE_UID, "SeriesInstanceUID")?;
    let sop_uid = uid(tags::SOP_INSTANCE_UID, "SOPInstanceUID")?;
    let sop_class_uid = uid(tags::SOP_CLASS_UID, "SOPClassUID")?;
    let rows = int(&obj, tags::ROWS);
    let columns = int(&obj, tags::COLUMNS);
    let frames = int(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1);
    check_pixel_data(&obj, &transfer_syntax, rows, columns, frames)?;
    let other_patient_ids = obj
        .get(Tag(0x0010, 0x1000))
        .and_then(|e| e.to_multi_str().ok())
        .map(|v| v.iter().map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let mut parsed = Parsed {
        patient_id: text(&obj, tags::PATIENT_ID),
        other_patient_ids,
        patient_name: text(&obj, tags::PATIENT_NAME),
        study_date: text(&obj, tags::STUDY_DATE),
        study_time: text(&obj, tags::STUDY_TIME),
        accession_number: text(&obj, tags::ACCESSION_NUMBER),
        study_description: text(&obj, tags::STUDY_DESCRIPTION),
        referring_physician: text(&obj, tags::REFERRING_PHYSICIAN_NAME),
        modality: {
            let m = text(&obj, tags::MODALITY);
            if m.is_empty() { "OT".into() } else { m }
        },
        series_number: int(&obj, tags::SERIES_NUMBER),
        series_description: text(&obj, tags::SERIES_DESCRIPTION),
        instance_number: int(&obj, tags::INSTANCE_NUMBER),
        study_uid,
        series_uid,
        sop_uid,
        sop_class_uid,
        transfer_syntax,
        rows,
        columns,
        frames,
        metadata: String::new(),
    };
    // The metadata leaves out bulk pixel data (the object is ours to change).
    let mut obj = obj;
    for t in [
        tags::PIXEL_DATA,
        tags::FLOAT_PIXEL_DATA,
        tags::DOUBLE_FLOAT_PIXEL_DATA,
        Tag(0x5400, 0x1010),
    ] {
        obj.remove_element(t);
    }
    parsed.metadata = dicom_json::to_string(&obj).map_err(|e| {
        refuse(
            ErrorCode::InvalidDicom,
            format!("The DICOM attributes cannot be converted to DICOM JSON: {e}"),
        )
    })?;
    Ok(parsed)
}

const ENCAPSULATED_PREFIXES: [&str; 3] = [
    "1.2.840.10008.1.2.4.", // JPEG family
    "1.2.840.10008.1.2.5",  // RLE
    "1.2.840.10008.1.2.8.", // JPEG XL etc.
];

/// Native pixel data must hold every frame it announces.
fn check_pixel_data(
    obj: &InMemDicomObject,
    ts: &str,
    rows: Option<i64>,
    columns: Option<i64>,
    frames: i64,
) -> Result<(), Refusal> {
    let Some(pixels) = obj.get(tags::PIXEL_DATA) else {
        return Ok(());
    };
    if ENCAPSULATED_PREFIXES.iter().any(|p| ts.starts_with(p)) {
        return match pixels.value() {
            dicom_core::DicomValue::PixelSequence(seq) if !seq.fragments().is_empty() => Ok(()),
            _ => Err(refuse(
                ErrorCode::InvalidPixelData,
                "The compressed pixel data has no fragments.",
            )),
        };
    }
    let (Some(r), Some(c)) = (rows, columns) else {
        return Err(refuse(
            ErrorCode::InvalidPixelData,
            "Pixel data without Rows and Columns.",
        ));
    };
    let spp = int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    let bits = int(obj, tags::BITS_ALLOCATED).unwrap_or(16);
    let expected = [c, spp.max(1), frames, bits.max(1)]
        .iter()
        .try_fold(r.max(0), |acc, v| acc.checked_mul((*v).max(0)))
        .map_or(i64::MAX, |v| v / 8);
    let got = match pixels.value() {
        dicom_core::DicomValue::Primitive(v) => v.calculate_byte_len() as i64,
        _ => 0,
    };
    if got < expected {
        return Err(refuse(
            ErrorCode::InvalidPixelData,
            format!(
                "The pixel data is truncated: {got} bytes where {r}x{c}x{spp} samples x {frames} frame(s) at {bits} bits need {expected}."
            ),
        ));
    }
    Ok(())
}

/// Window/level for rendering: centre and width in modality units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub center: f64,
    pub width: f64,
}

/// Render frame `frame` (0-based) of a stored instance to PNG.
pub fn render_png(bytes: &[u8], frame: u32, window: Option<Window>) -> Result<Vec<u8>, Refusal> {
    let file = read(bytes)?;
    let frames = int(&file, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as u32;
    if frame >= frames {
        return Err(refuse(
            ErrorCode::NoSuchFrame,
            format!("The instance has {frames} frame(s); frames are numbered from 1."),
        ));
    }
    let decoded = file.decode_pixel_data_frame(frame).map_err(|e| {
        refuse(
            ErrorCode::CannotRender,
            format!("The pixel data cannot be decoded for display: {e}"),
        )
    })?;
    let (w, h) = (decoded.columns(), decoded.rows());
    let spp = decoded.samples_per_pixel();
    let pi = decoded.photometric_interpretation().as_str().to_string();
    let (pixels, color) = if spp == 1 {
        let values: Vec<f64> = decoded.to_vec_frame(0).map_err(|e| {
            refuse(
                ErrorCode::CannotRender,
                format!("Cannot read the pixels: {e}"),
            )
        })?;
        let wl = window
            .or_else(|| {
                decoded
                    .window()
                    .ok()
                    .flatten()
                    .and_then(|w| w.first())
                    .map(|w| Window {
                        center: w.center,
                        width: w.width,
                    })
            })
            .unwrap_or_else(|| {
                let (lo, hi) = values
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
                Window {
                    center: (lo + hi) / 2.0,
                    width: (hi - lo).max(1.0),
                }
            });
        let mut px = apply_window(&values, wl);
        if pi == "MONOCHROME1" {
            px.iter_mut().for_each(|p| *p = 255 - *p);
        }
        (px, png::ColorType::Grayscale)
    } else {
        let px: Vec<u8> = decoded.to_vec_frame(0).map_err(|e| {
            refuse(
                ErrorCode::CannotRender,
                format!("Cannot read the pixels: {e}"),
            )
        })?;
        (px, png::ColorType::Rgb)
    };
    let channels = if color == png::ColorType::Rgb { 3 } else { 1 };
    let needed = (w as usize) * (h as usize) * channels;
    if pixels.len() < needed {
        return Err(refuse(
            ErrorCode::CannotRender,
            "The decoded frame is smaller than Rows x Columns.",
        ));
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| refuse(ErrorCode::CannotRender, e.to_string()))?;
        writer
            .write_image_data(&pixels[..needed])
            .map_err(|e| refuse(ErrorCode::CannotRender, e.to_string()))?;
    }
    Ok(out)
}

/// Linear VOI (PS3.3 C.11.2.1.2) from modality values to 8-bit grey.
pub fn apply_window(values: &[f64], w: Window) -> Vec<u8> {
    let width = w.width.max(1.0);
    let low = w.center - 0.5 - (width - 1.0) / 2.0;
    let high = w.center - 0.5 + (width - 1.0) / 2.0;
    values
        .iter()
        .map(|&x| {
            if x <= low {
                0
            } else if x > high {
                255
            } else {
                (((x - (w.center - 0.5)) / (width - 1.0) + 0.5) * 255.0).clamp(0.0, 255.0) as u8
            }
        })
        .collect()
}

/// What a synthetic CT instance should say.
#[derive(Debug, Clone)]
pub struct Synth {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub patient_id: String,
    pub patient_name: String,
    pub study_date: String,
    pub accession_number: String,
    pub modality: String,
    pub series_number: i64,
    pub instance_number: i64,
    pub size: u16,
}

/// A UID under the ihos test root with a random, unique tail.
pub fn new_uid() -> String {
    let a: u64 = rand::random::<u64>() % 10_000_000_000_000;
    let b: u64 = rand::random::<u64>() % 10_000_000_000_000;
    format!("2.25.{}{:013}{:013}", 1 + rand::random::<u8>() % 9, a, b)
}

/// A CT-like 16-bit instance (a bright disc on a dark body, shifted per
/// slice) as a Part 10 file.
pub fn synth_ct(s: &Synth) -> Vec<u8> {
    let n = s.size;
    let mut px: Vec<u16> = Vec::with_capacity(usize::from(n) * usize::from(n));
    let c = f64::from(n) / 2.0;
    let r = c * 0.3 + (s.instance_number % 10) as f64;
    for y in 0..n {
        for x in 0..n {
            let d = ((f64::from(x) - c).powi(2) + (f64::from(y) - c).powi(2)).sqrt();
            let v = if d < r {
                1400
            } else if d < c * 0.9 {
                1000 + ((x as i64 * 7 + y as i64 * 3) % 40) as u16
            } else {
                0
            };
            px.push(v);
        }
    }
    let str_el = |tag: Tag, vr: VR, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let us = |tag: Tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let obj = InMemDicomObject::from_element_iter([
        str_el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
        str_el(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2"),
        str_el(tags::SOP_INSTANCE_UID, VR::UI, &s.sop_uid),
        str_el(tags::STUDY_DATE, VR::DA, &s.study_date),
        str_el(tags::STUDY_TIME, VR::TM, "093000"),
        str_el(tags::ACCESSION_NUMBER, VR::SH, &s.accession_number),
        str_el(tags::MODALITY, VR::CS, &s.modality),
        str_el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
        str_el(tags::STUDY_DESCRIPTION, VR::LO, "胸部CT平扫"),
        str_el(tags::SERIES_DESCRIPTION, VR::LO, "Axial 5mm"),
        str_el(tags::PATIENT_NAME, VR::PN, &s.patient_name),
        str_el(tags::PATIENT_ID, VR::LO, &s.patient_id),
        str_el(tags::STUDY_INSTANCE_UID, VR::UI, &s.study_uid),
        str_el(tags::SERIES_INSTANCE_UID, VR::UI, &s.series_uid),
        str_el(tags::SERIES_NUMBER, VR::IS, &s.series_number.to_string()),
        str_el(
            tags::INSTANCE_NUMBER,
            VR::IS,
            &s.instance_number.to_string(),
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        str_el(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, n),
        us(tags::COLUMNS, n),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 12),
        us(tags::HIGH_BIT, 11),
        us(tags::PIXEL_REPRESENTATION, 0),
        str_el(tags::WINDOW_CENTER, VR::DS, "40"),
        str_el(tags::WINDOW_WIDTH, VR::DS, "400"),
        str_el(tags::RESCALE_INTERCEPT, VR::DS, "-1024"),
        str_el(tags::RESCALE_SLOPE, VR::DS, "1"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(px.into_iter().collect()),
        ),
    ]);
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .implementation_class_uid("2.25.1"),
        )
        .expect("a complete meta table");
    let mut out = Vec::new();
    file.write_all(&mut out)
        .expect("writing to memory does not fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synth() -> Synth {
        Synth {
            study_uid: new_uid(),
            series_uid: new_uid(),
            sop_uid: new_uid(),
            patient_id: "P0001".into(),
            patient_name: "林秀英".into(),
            study_date: "20261120".into(),
            accession_number: "A1".into(),
            modality: "CT".into(),
            series_number: 1,
            instance_number: 3,
            size: 64,
        }
    }

    #[test]
    fn a_synthetic_instance_parses_back_and_renders() {
        let s = synth();
        let bytes = synth_ct(&s);
        let p = parse(&bytes).unwrap();
        assert_eq!(p.sop_uid, s.sop_uid);
        assert_eq!(p.patient_name, "林秀英");
        assert_eq!(p.rows, Some(64));
        let meta: serde_json::Value = serde_json::from_str(&p.metadata).unwrap();
        assert!(meta.get("7FE00010").is_none());
        assert_eq!(meta["00100020"]["Value"][0], "P0001");
        let png = render_png(&bytes, 0, None).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        assert_eq!(
            render_png(&bytes, 1, None).unwrap_err().code,
            "no_such_frame"
        );
        let narrow = render_png(
            &bytes,
            0,
            Some(Window {
                center: 400.0,
                width: 10.0,
            }),
        )
        .unwrap();
        assert_ne!(png, narrow, "the window changes the picture");
    }

    #[test]
    fn windowing_maps_the_window_to_the_grey_range() {
        let w = Window {
            center: 40.0,
            width: 400.0,
        };
        assert_eq!(apply_window(&[-1000.0, 40.0, 1000.0], w), vec![0, 127, 255]);
    }

    #[test]
    fn pixel_data_shorter_than_announced_is_refused() {
        let mut file = read(&synth_ct(&synth())).unwrap();
        file.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(128_u16),
        ));
        let mut bytes = Vec::new();
        file.write_all(&mut bytes).unwrap();
        let e = parse(&bytes).unwrap_err();
        assert_eq!(e.code, "invalid_pixel_data");
        assert!(e.message.contains("truncated"), "{}", e.message);
    }

    #[test]
    fn truncated_and_garbage_files_are_refused() {
        let bytes = synth_ct(&synth());
        let cut = &bytes[..bytes.len() - 100];
        assert!(parse(cut).is_err());
        assert_eq!(parse(b"hello").unwrap_err().code, "not_dicom");
        let mut garbage = vec![0u8; 128];
        garbage.extend_from_slice(b"DICM");
        garbage.extend_from_slice(&[0xff; 200]);
        assert_eq!(parse(&garbage).unwrap_err().code, "invalid_dicom");
    }
}
