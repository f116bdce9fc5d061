//! Cloud imaging: DICOMweb store/search/retrieve on real sample files
//! (pydicom's test files, see tests/data/dicom/README.md) and generated
//! ones, refusal of broken files, consent-governed sharing, SMS-verified
//! patient links and the audit trail.

use ihos_server::imaging::dicom::{Synth, new_uid, synth_ct};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const CT_SOP: &str = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";
const MR_SOP: &str = "1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457";
const SC_SOP: &str = "1.2.276.0.7230010.3.1.4.8323329.15150.1506363677.126194";

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/dicom/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn multipart(files: &[&[u8]]) -> (String, Vec<u8>) {
    let boundary = "ihos-test-boundary-7f3a";
    let mut body = Vec::new();
    for f in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/related; type=\"application/dicom\"; boundary={boundary}"),
        body,
    )
}

/// A hospital with a radiology department, its radiologist, a non-radiology
/// doctor, and a community health centre with a community doctor.
struct Site {
    hospital: String,
    org_admin: Session,
    radiologist: Session,
    other_doctor: Session,
    community_doctor: Session,
    community_doctor_id: String,
}

async fn practitioner(
    app: &TestApp,
    admin: &Session,
    org: &str,
    department: Option<&str>,
) -> (Session, String) {
    let ph = phone();
    let licence = format!("2203{:011}", rand_u64() % 100_000_000_000);
    let resp = app
        .post(
            &format!("/api/v1/organisations/{org}/practitioners"),
            Some(admin),
            &json!({"name": "李医生", "phone": ph, "password": PASSWORD, "title": "主治医师",
                    "licence_no": licence, "practising_since": "2012-07-01", "department_id": department}),
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    let id = s(&resp.json::<Value>().await.unwrap()["id"]);
    (app.login_ok(&ph).await, id)
}

fn rand_u64() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    n.wrapping_mul(6364136223846793005)
        .wrapping_add(u64::from(std::process::id()))
}

async fn site(app: &TestApp) -> Site {
    let admin = app.platform_admin().await;
    let hospital = app.hospital(&admin, "杭州影像测试医院").await;
    let org_admin = app.org_admin(&admin, &hospital).await;
    let dept = |name: &str, specialty: &str| json!({"name": name, "specialty": specialty});
    let resp = app
        .post(
            &format!("/api/v1/organisations/{hospital}/departments"),
            Some(&org_admin),
            &dept("放射科", "radiology"),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let radiology = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = app
        .post(
            &format!("/api/v1/organisations/{hospital}/departments"),
            Some(&org_admin),
            &dept("心血管内科", "cardiology"),
        )
        .await;
    let cardiology = s(&resp.json::<Value>().await.unwrap()["id"]);
    let (radiologist, _) = practitioner(app, &org_admin, &hospital, Some(&radiology)).await;
    let (other_doctor, _) = practitioner(app, &org_admin, &hospital, Some(&cardiology)).await;
    let resp = app
        .post(
            "/api/v1/organisations",
            Some(&admin),
            &json!({"name": "湖滨街道社区卫生服务中心", "kind": "community_health_centre", "province": "浙江省", "city": "杭州市"}),
        )
        .await;
    let chc = s(&resp.json::<Value>().await.unwrap()["id"]);
    let chc_admin = app.org_admin(&admin, &chc).await;
    let (community_doctor, community_doctor_id) = practitioner(app, &chc_admin, &chc, None).await;
    Site {
        hospital,
        org_admin,
        radiologist,
        other_doctor,
        community_doctor,
        community_doctor_id,
    }
}

impl TestApp {
    async fn stow(&self, who: &Session, files: &[&[u8]]) -> reqwest::Response {
        let (ct, body) = multipart(files);
        self.client
            .post(self.url("/dicom-web/studies"))
            .bearer_auth(&who.token)
            .header("Content-Type", ct)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn dicom_get(&self, path: &str, who: &Session) -> reqwest::Response {
        self.get(path, Some(who)).await
    }

    async fn imaging_counts(&self) -> (i64, i64, i64) {
        let mut c = self.state.store.conn().await.unwrap();
        ihos_store::imaging::counts(&mut c).await.unwrap()
    }

    fn blob_count(&self) -> usize {
        ihos_server::imaging::service::blobs(&self.state).count()
    }

    async fn trail(&self, study_uid: &str) -> Vec<ihos_store::audit::AuditRow> {
        let mut c = self.state.store.conn().await.unwrap();
        let study = ihos_store::imaging::study_for(&mut c, study_uid, "", 0)
            .await
            .unwrap()
            .unwrap();
        ihos_store::audit::trail(&mut c, "imaging_study", &study.study.id, 1000)
            .await
            .unwrap()
    }
}

fn first(v: &Value, tag: &str) -> Value {
    v[tag]["Value"][0].clone()
}

/// A synthetic CT study of `n` slices for the patient named.
fn ct_study(patient_id: &str, name: &str, n: i64) -> (String, String, Vec<Vec<u8>>) {
    let (study, series) = (new_uid(), new_uid());
    let files = (1..=n)
        .map(|i| {
            synth_ct(&Synth {
                study_uid: study.clone(),
                series_uid: series.clone(),
                sop_uid: new_uid(),
                patient_id: patient_id.into(),
                patient_name: name.into(),
                study_date: "20261118".into(),
                accession_number: format!("ACC{}", rand_u64() % 1_000_000),
                modality: "CT".into(),
                series_number: 1,
                instance_number: i,
                size: 64,
            })
        })
        .collect();
    (study, series, files)
}

#[tokio::test]
async fn real_sample_files_are_stored_then_found_by_qido_and_described_by_wado() {
    let app = spawn_app().await;
    let site = site(&app).await;
    let (ct, mr, sc) = (
        sample("CT_small.dcm"),
        sample("MR_small.dcm"),
        sample("SC_rgb_jpeg_dcmtk.dcm"),
    );
    let resp = app.stow(&site.radiologist, &[&ct, &mr, &sc]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "application/dicom+json",
        "STOW answers DICOM JSON"
    );
    let body: Value = resp.json().await.unwrap();
    let refs = body["00081199"]["Value"].as_array().unwrap();
    let sops: Vec<String> = refs.iter().map(|r| s(&first(r, "00081155"))).collect();
    assert_eq!(sops, [CT_SOP, MR_SOP, SC_SOP]);
    assert!(body.get("00081198").is_none(), "no failures: {body}");
    assert_eq!(app.imaging_counts().await, (3, 3, 3));
    assert_eq!(app.blob_count(), 3);

    // QIDO by modality finds the CT study and tells its attributes.
    let found: Value = app
        .dicom_get("/dicom-web/studies?ModalitiesInStudy=CT", &site.radiologist)
        .await
        .json()
        .await
        .unwrap();
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let ct_study = s(&first(&found[0], "0020000D"));
    assert_eq!(
        first(&found[0], "00100010")["Alphabetic"],
        "CompressedSamples^CT1"
    );
    assert_eq!(first(&found[0], "00080020"), "20040119");
    assert_eq!(first(&found[0], "00201208"), 1);

    // QIDO by date range and by patient id.
    let by_date: Value = app
        .dicom_get(
            "/dicom-web/studies?StudyDate=20040101-20041231",
            &site.radiologist,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        by_date.as_array().unwrap().len(),
        2,
        "CT and MR are from 2004"
    );
    let pid = s(&first(&found[0], "00100020"));
    let by_pid: Value = app
        .dicom_get(
            &format!("/dicom-web/studies?PatientID={pid}"),
            &site.radiologist,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s(&first(&by_pid[0], "0020000D")), ct_study);
    let bad = app
        .dicom_get("/dicom-web/studies?StudyDate=2004", &site.radiologist)
        .await;
    assert_error(bad, StatusCode::BAD_REQUEST, "invalid_date").await;

    // WADO-RS metadata: the instance's attributes as DICOM JSON, no pixel data.
    let resp = app
        .dicom_get(
            &format!("/dicom-web/studies/{ct_study}/metadata"),
            &site.radiologist,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/dicom+json");
    let meta: Value = resp.json().await.unwrap();
    assert_eq!(s(&first(&meta[0], "00080018")), CT_SOP);
    assert_eq!(first(&meta[0], "00280010"), 128, "Rows of CT_small");
    assert!(meta[0].get("7FE00010").is_none());

    // Series and instance search, then the rendered frame and the file itself.
    let series: Value = app
        .dicom_get(
            &format!("/dicom-web/studies/{ct_study}/series"),
            &site.radiologist,
        )
        .await
        .json()
        .await
        .unwrap();
    let series_uid = s(&first(&series[0], "0020000E"));
    let insts: Value = app
        .dicom_get(
            &format!("/dicom-web/studies/{ct_study}/series/{series_uid}/instances"),
            &site.radiologist,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s(&first(&insts[0], "00080018")), CT_SOP);
    let base = format!("/dicom-web/studies/{ct_study}/series/{series_uid}/instances/{CT_SOP}");
    let png = app
        .dicom_get(
            &format!("{base}/frames/1/rendered?window=40,400"),
            &site.radiologist,
        )
        .await;
    assert_eq!(png.status(), StatusCode::OK);
    assert_eq!(png.headers()["content-type"], "image/png");
    let png = png.bytes().await.unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let missing = app
        .dicom_get(&format!("{base}/frames/2/rendered"), &site.radiologist)
        .await;
    assert_error(missing, StatusCode::NOT_FOUND, "no_such_frame").await;
    let file = app.dicom_get(&base, &site.radiologist).await;
    assert!(
        file.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("multipart/related")
    );
    let body = file.bytes().await.unwrap();
    assert!(
        body.windows(ct.len()).any(|w| w == ct.as_slice()),
        "the stored file comes back byte for byte"
    );

    // The JPEG-compressed colour image renders too (pure-Rust decoder).
    let sc_study: Value = app
        .dicom_get("/dicom-web/studies?ModalitiesInStudy=OT", &site.radiologist)
        .await
        .json()
        .await
        .unwrap();
    let sc_study = s(&first(&sc_study[0], "0020000D"));
    let sc_series: Value = app
        .dicom_get(
            &format!("/dicom-web/studies/{sc_study}/series"),
            &site.radiologist,
        )
        .await
        .json()
        .await
        .unwrap();
    let sc_series = s(&first(&sc_series[0], "0020000E"));
    let png = app
        .dicom_get(
            &format!("/dicom-web/studies/{sc_study}/series/{sc_series}/instances/{SC_SOP}/frames/1/rendered"),
            &site.radiologist,
        )
        .await;
    assert_eq!(png.status(), StatusCode::OK);

    // Storing the same instance again changes nothing.
    let again = app.stow(&site.radiologist, &[&ct]).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(app.imaging_counts().await, (3, 3, 3));
    assert_eq!(app.blob_count(), 3);
}

#[tokio::test]
async fn truncated_or_garbage_dicom_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let site = site(&app).await;
    let truncated = sample("MR_truncated.dcm");
    let resp = app.stow(&site.radiologist, &[&truncated]).await;
    let body = assert_error(resp, StatusCode::CONFLICT, "invalid_dicom").await;
    assert!(
        body["detail"].as_str().unwrap().contains("truncated"),
        "{body}"
    );

    let mut cut = sample("CT_small.dcm");
    cut.truncate(3000);
    let resp = app.stow(&site.radiologist, &[&cut]).await;
    assert_error(resp, StatusCode::CONFLICT, "invalid_dicom").await;

    let resp = app
        .stow(&site.radiologist, &[b"this is not an image".as_slice()])
        .await;
    assert_error(resp, StatusCode::CONFLICT, "not_dicom").await;
    assert_eq!(app.imaging_counts().await, (0, 0, 0), "no rows");
    assert_eq!(app.blob_count(), 0, "no blobs");

    // Not multipart/related at all.
    let resp = app
        .client
        .post(app.url("/dicom-web/studies"))
        .bearer_auth(&site.radiologist.token)
        .header("Content-Type", "application/dicom")
        .body(sample("CT_small.dcm"))
        .send()
        .await
        .unwrap();
    assert_error(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // A good file next to a bad one: the good one is stored, the bad one reported.
    let rle = sample("MR_small_RLE.dcm");
    let resp = app.stow(&site.radiologist, &[&rle, &truncated]).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["00081199"]["Value"].as_array().unwrap().len(), 1);
    let failed = &body["00081198"]["Value"][0];
    assert_eq!(first(failed, "00081197"), 0xC000);
    assert_eq!(app.imaging_counts().await, (1, 1, 1));
    assert_eq!(app.blob_count(), 1);

    // The RLE-compressed MR renders (pure-Rust RLE decoder).
    let studies: Value = app
        .dicom_get("/dicom-web/studies", &site.radiologist)
        .await
        .json()
        .await
        .unwrap();
    let study = s(&first(&studies[0], "0020000D"));
    let series: Value = app
        .dicom_get(
            &format!("/dicom-web/studies/{study}/series"),
            &site.radiologist,
        )
        .await
        .json()
        .await
        .unwrap();
    let series = s(&first(&series[0], "0020000E"));
    let png = app
        .dicom_get(
            &format!("/dicom-web/studies/{study}/series/{series}/instances/{MR_SOP}/rendered"),
            &site.radiologist,
        )
        .await;
    assert_eq!(png.status(), StatusCode::OK);

    // Only staff upload; a patient cannot.
    let p = app.sign_up_patient("林秀英").await;
    let resp = app.stow(&p.session, &[&rle]).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_community_doctor_sees_a_study_only_while_the_patient_consents() {
    let app = spawn_app().await;
    let site = site(&app).await;
    let p = app.sign_up_patient("林秀英").await;
    let (study, _, files) = ct_study(&p.resident_id, "林秀英", 3);
    let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    assert_eq!(
        app.stow(&site.radiologist, &refs).await.status(),
        StatusCode::OK
    );
    let meta_path = format!("/dicom-web/studies/{study}/metadata");

    // Linked by resident ID: the patient sees it in their list.
    let mine: Value = app
        .get("/api/v1/imaging/studies", Some(&p.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["study_uid"], study.as_str());
    assert_eq!(mine[0]["link_status"], "linked");

    // Without consent: not found, and QIDO does not list it.
    let doc = &site.community_doctor;
    assert_error(
        app.dicom_get(&meta_path, doc).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let listed: Value = app
        .dicom_get("/dicom-web/studies", doc)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 0);
    // Admins manage staff, not images.
    assert_error(
        app.dicom_get(&meta_path, &site.org_admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // With consent for this study: visible.
    let resp = app
        .post(
            "/api/v1/imaging/consents",
            Some(&p.session),
            &json!({"grantee_id": site.community_doctor_id, "study_uid": study, "days": 30}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let consent = s(&resp.json::<Value>().await.unwrap()["id"]);
    let resp = app.dicom_get(&meta_path, doc).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let listed: Value = app
        .dicom_get("/dicom-web/studies", doc)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s(&first(&listed[0], "0020000D")), study);

    // Revoked: gone at once.
    let resp = app
        .client
        .delete(app.url(&format!("/api/v1/imaging/consents/{consent}")))
        .bearer_auth(&p.session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.dicom_get(&meta_path, doc).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // A consent for all studies, then its expiry.
    let resp = app
        .post(
            "/api/v1/imaging/consents",
            Some(&p.session),
            &json!({"grantee_id": site.community_doctor_id, "days": 7}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let consent = s(&resp.json::<Value>().await.unwrap()["id"]);
    assert_eq!(
        app.dicom_get(&meta_path, doc).await.status(),
        StatusCode::OK
    );
    {
        let mut c = app.state.store.conn().await.unwrap();
        ihos_store::imaging::set_consent_expiry(&mut c, &consent, ihos_store::now_ms() - 1)
            .await
            .unwrap();
    }
    assert_error(
        app.dicom_get(&meta_path, doc).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Bad consents are refused with a reason.
    let resp = app
        .post(
            "/api/v1/imaging/consents",
            Some(&p.session),
            &json!({"grantee_id": site.community_doctor_id, "days": 400}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_consent_days").await;
    let resp = app
        .post(
            "/api/v1/imaging/consents",
            Some(&p.session),
            &json!({"grantee_id": p.session.account_id, "days": 3}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "unknown_practitioner").await;

    // Every access is in the audit log, with its ground.
    let trail = app.trail(&study).await;
    let grounds: Vec<(&str, &str)> = trail
        .iter()
        .map(|a| (a.action.as_str(), a.ground.as_str()))
        .collect();
    assert!(grounds.contains(&("imaging.store", "performing_org")));
    assert!(grounds.contains(&("imaging.search", "self")));
    assert_eq!(
        grounds
            .iter()
            .filter(|g| **g == ("imaging.metadata", "patient_consent"))
            .count(),
        2,
        "two consented reads: {grounds:?}"
    );
    assert!(grounds.contains(&("imaging.search", "patient_consent")));
    assert!(
        trail
            .iter()
            .filter(|a| a.ground == "patient_consent")
            .all(|a| a.actor_id.as_deref() == Some(site.community_doctor.account_id.as_str()))
    );
    let _ = &site.hospital;
}

#[tokio::test]
async fn the_radiologist_signs_the_report_and_the_patient_opens_it_with_a_one_time_sms_code() {
    let app = spawn_app().await;
    let site = site(&app).await;
    let p = app.sign_up_patient("林秀英").await;
    let (study, _, files) = ct_study(&p.resident_id, "林秀英", 2);
    let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    assert_eq!(
        app.stow(&site.radiologist, &refs).await.status(),
        StatusCode::OK
    );
    let report = json!({"findings": "右肺上叶见4mm磨玻璃结节。", "impression": "右肺上叶微小结节，建议随访。", "sign": true});
    let path = format!("/api/v1/imaging/studies/{study}/report");

    // Only a radiologist of the performing hospital writes the report.
    let resp = app.post(&path, Some(&site.other_doctor), &report).await;
    assert_error(resp, StatusCode::FORBIDDEN, "forbidden").await;
    let resp = app
        .post(
            &path,
            Some(&site.radiologist),
            &json!({"findings": "", "impression": "x"}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_findings").await;
    let resp = app.post(&path, Some(&site.radiologist), &report).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["patient_notified"],
        true
    );
    let resp = app.post(&path, Some(&site.radiologist), &report).await;
    assert_error(resp, StatusCode::CONFLICT, "report_signed").await;

    // The SMS with the link went to the outbox for the patient.
    let outbox = |topic: &'static str| {
        let app = &app;
        let who = p.session.account_id.clone();
        async move {
            let mut c = app.state.store.conn().await.unwrap();
            ihos_store::outbox::latest(&mut c, topic, &who)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let link = outbox("sms.imaging_link").await;
    let url = s(&link["url"]);
    let token = url.trim_start_matches("/imaging/open/").to_string();
    assert!(
        !link.to_string().contains(&p.phone),
        "the phone travels encrypted"
    );

    // The page opens without a login; the study needs the code.
    assert_eq!(app.get(&url, None).await.status(), StatusCode::OK);
    let code_path = format!("/api/v1/imaging/links/{token}/code");
    let verify_path = format!("/api/v1/imaging/links/{token}/verify");
    let resp = app.post(&code_path, None, &json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let sent: Value = resp.json().await.unwrap();
    assert_eq!(
        sent["sent_to"],
        format!("{}****{}", &p.phone[..3], &p.phone[7..])
    );
    let code = s(&outbox("sms.imaging_code").await["code"]);

    // Rate-limited: no second code within a minute.
    let resp = app.post(&code_path, None, &json!({})).await;
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "too_many_codes").await;

    // A wrong code is refused; the right one opens the study once.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let resp = app.post(&verify_path, None, &json!({"code": wrong})).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "wrong_code").await;
    let resp = app.post(&verify_path, None, &json!({"code": code})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let grant = s(&resp.json::<Value>().await.unwrap()["grant"]);
    let resp = app.post(&verify_path, None, &json!({"code": code})).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "wrong_code").await;

    // The grant shows this study and its signed report, nothing else.
    let view: Value = app
        .client
        .get(app.url(&format!("/api/v1/imaging/studies/{study}")))
        .header("X-Imaging-Grant", &grant)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["report"]["status"], "final");
    assert_eq!(view["report"]["impression"], "右肺上叶微小结节，建议随访。");
    assert_eq!(view["series"][0]["instances"].as_array().unwrap().len(), 2);
    let (other, _, other_files) = ct_study("MRN-1", "王芳", 1);
    assert_eq!(
        app.stow(&site.radiologist, &[&other_files[0]])
            .await
            .status(),
        StatusCode::OK
    );
    let resp = app
        .client
        .get(app.url(&format!("/dicom-web/studies/{other}/metadata")))
        .header("X-Imaging-Grant", &grant)
        .send()
        .await
        .unwrap();
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let anonymous = app
        .get(&format!("/dicom-web/studies/{study}/metadata"), None)
        .await;
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // A second link: its code expires, and five wrong guesses void a code.
    let resp = app
        .post(
            &format!("/api/v1/imaging/studies/{study}/patient-link"),
            Some(&site.radiologist),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let token2 = s(&outbox("sms.imaging_link").await["url"])
        .trim_start_matches("/imaging/open/")
        .to_string();
    assert_ne!(token, token2);
    let resp = app
        .post(
            &format!("/api/v1/imaging/links/{token2}/code"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let code2 = s(&outbox("sms.imaging_code").await["code"]);
    {
        let mut c = app.state.store.conn().await.unwrap();
        let link = ihos_store::imaging::link_by_token(
            &mut c,
            &ihos_server::crypto::token_hash(&token2),
            ihos_store::now_ms(),
        )
        .await
        .unwrap()
        .unwrap();
        ihos_store::imaging::expire_codes(&mut c, &link.id, ihos_store::now_ms() - 1)
            .await
            .unwrap();
    }
    let resp = app
        .post(
            &format!("/api/v1/imaging/links/{token2}/verify"),
            None,
            &json!({"code": code2}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "wrong_code").await;

    // Every step is in the audit log.
    let trail = app.trail(&study).await;
    let actions: Vec<&str> = trail.iter().map(|a| a.action.as_str()).collect();
    assert!(actions.contains(&"imaging.report_write"), "{actions:?}");
    assert!(actions.contains(&"imaging.link_verified"));
    assert!(
        trail
            .iter()
            .any(|a| a.action == "imaging.view" && a.ground == "sms_verified_link")
    );
}

#[tokio::test]
async fn verification_attempts_are_limited() {
    let app = spawn_app().await;
    let site = site(&app).await;
    let p = app.sign_up_patient("林秀英").await;
    let (study, _, files) = ct_study(&p.resident_id, "林秀英", 1);
    assert_eq!(
        app.stow(&site.radiologist, &[&files[0]]).await.status(),
        StatusCode::OK
    );
    let resp = app
        .post(
            &format!("/api/v1/imaging/studies/{study}/patient-link"),
            Some(&site.radiologist),
            &json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let mut c = app.state.store.conn().await.unwrap();
    let link = ihos_store::outbox::latest(&mut c, "sms.imaging_link", &p.session.account_id)
        .await
        .unwrap()
        .unwrap();
    let token = s(&link["url"])
        .trim_start_matches("/imaging/open/")
        .to_string();
    app.post(
        &format!("/api/v1/imaging/links/{token}/code"),
        None,
        &json!({}),
    )
    .await;
    let code = s(
        &ihos_store::outbox::latest(&mut c, "sms.imaging_code", &p.session.account_id)
            .await
            .unwrap()
            .unwrap()["code"],
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let verify = format!("/api/v1/imaging/links/{token}/verify");
    for _ in 0..5 {
        let resp = app.post(&verify, None, &json!({"code": wrong})).await;
        assert_error(resp, StatusCode::BAD_REQUEST, "wrong_code").await;
    }
    let resp = app.post(&verify, None, &json!({"code": code})).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "wrong_code").await;
    let resp = app.post(&verify, None, &json!({"code": "12ab"})).await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_code").await;
    let resp = app
        .post("/api/v1/imaging/links/not-a-token/code", None, &json!({}))
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "link_invalid").await;
}

#[tokio::test]
async fn unmatched_studies_wait_for_review_and_staff_link_them() {
    let app = spawn_app().await;
    let site = site(&app).await;
    let p = app.sign_up_patient("林秀英").await;
    // Right resident ID, wrong name: held for review, not linked.
    let (mismatch, _, f1) = ct_study(&p.resident_id, "王芳", 1);
    // Unregistered resident ID.
    let (unknown, _, f2) = ct_study(&resident_id("19700101"), "张三", 1);
    // A hospital record number, no resident ID.
    let (mrn, _, f3) = ct_study("MRN-0001", "林秀英", 1);
    let resp = app.stow(&site.radiologist, &[&f1[0], &f2[0], &f3[0]]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let queue: Value = app
        .get("/api/v1/imaging/review", Some(&site.org_admin))
        .await
        .json()
        .await
        .unwrap();
    let issue = |uid: &str| {
        queue
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["study_uid"] == uid)
            .map(|q| q["link_issue"].clone())
    };
    assert_eq!(issue(&mismatch), Some(json!("name_mismatch")));
    assert_eq!(issue(&unknown), Some(json!("no_patient")));
    assert_eq!(issue(&mrn), Some(json!("no_resident_id")));
    assert!(
        !queue.to_string().contains(&p.resident_id),
        "resident IDs are masked in the queue"
    );
    let mine: Value = app
        .get("/api/v1/imaging/studies", Some(&p.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine.as_array().unwrap().len(), 0, "nothing linked yet");

    // The community doctor cannot see or link another organisation's queue.
    let resp = app
        .post(
            &format!("/api/v1/imaging/studies/{mrn}/patient"),
            Some(&site.community_doctor),
            &json!({"resident_id": p.resident_id}),
        )
        .await;
    assert_error(resp, StatusCode::NOT_FOUND, "not_found").await;
    let resp = app
        .post(
            &format!("/api/v1/imaging/studies/{mrn}/patient"),
            Some(&site.org_admin),
            &json!({"resident_id": "123"}),
        )
        .await;
    assert_error(resp, StatusCode::BAD_REQUEST, "invalid_resident_id").await;
    let resp = app
        .post(
            &format!("/api/v1/imaging/studies/{mrn}/patient"),
            Some(&site.org_admin),
            &json!({"resident_id": p.resident_id}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let mine: Value = app
        .get("/api/v1/imaging/studies", Some(&p.session))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["study_uid"], mrn.as_str());
    assert_eq!(mine.as_array().unwrap().len(), 1);
}
