//! `ihos demo`: a realistic medical consortium to explore the platform with.
//! Everything goes through the same services as the API, so the demo data
//! obeys the same rules. Passwords are random and printed once.

use ihos_domain::Role;
use ihos_domain::identity::check_char;
use ihos_store::org;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::identity::service::{self as ids, NewDependantInput, SignUp};
use crate::org::service::{
    self as orgs, NewConsortiumInput, NewDepartmentInput, NewOrgInput, NewPractitionerInput,
    NewStaffAccountInput,
};
use crate::state::AppState;

pub const DEMO_HOSPITAL: &str = "杭州城东人民医院";

/// One account created by the demo, for the printed table.
pub struct DemoAccount {
    pub role: &'static str,
    pub name: String,
    pub phone: String,
    pub password: String,
    pub note: String,
}

pub fn password() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
    let letters: String = (0..6)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("Demo-{letters}-{}", rng.gen_range(10..99))
}

fn resident_id(region: &str, birth: &str, seq: &str) -> String {
    let first17 = format!("{region}{birth}{seq}");
    format!("{first17}{}", check_char(&first17))
}

fn err(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

/// Load the demo consortium unless it is already there. Returns the accounts
/// created (empty when the demo was loaded before).
pub async fn load(state: &AppState) -> anyhow::Result<Vec<DemoAccount>> {
    let mut conn = state.store.pool().acquire().await?;
    if org::list_orgs(&mut conn, Some("hospital"), None)
        .await?
        .iter()
        .any(|o| o.name == DEMO_HOSPITAL)
    {
        return Ok(Vec::new());
    }
    let mut accounts = Vec::new();

    // The platform admin is bootstrapped directly: nobody exists yet to create it.
    let admin_password = password();
    let admin_id = ids::create_platform_admin(state, "平台管理员", "13900000001", &admin_password)
        .await
        .map_err(err)?;
    accounts.push(DemoAccount {
        role: "platform_admin",
        name: "平台管理员".into(),
        phone: "13900000001".into(),
        password: admin_password,
        note: String::new(),
    });
    let admin = Caller {
        account_id: admin_id,
        display_name: "平台管理员".into(),
        grants: vec![(Role::PlatformAdmin, String::new())],
        request_id: None,
    };

    let new_org = |name: &str, kind: &str, level: Option<&str>| NewOrgInput {
        name: name.into(),
        kind: kind.into(),
        level: level.map(Into::into),
        province: "浙江省".into(),
        city: "杭州市".into(),
    };
    let hospital = orgs::create_org(
        state,
        &admin,
        new_org(DEMO_HOSPITAL, "hospital", Some("三级甲等")),
    )
    .await
    .map_err(err)?;
    let mut chcs = Vec::new();
    for name in [
        "湖滨街道社区卫生服务中心",
        "望江街道社区卫生服务中心",
        "闸弄口街道社区卫生服务中心",
    ] {
        chcs.push(
            orgs::create_org(
                state,
                &admin,
                new_org(name, "community_health_centre", None),
            )
            .await
            .map_err(err)?,
        );
    }
    let pharmacy = orgs::create_org(state, &admin, new_org("城东大药房", "pharmacy", None))
        .await
        .map_err(err)?;
    let enterprise = orgs::create_org(
        state,
        &admin,
        new_org("钱江数智科技有限公司", "enterprise", None),
    )
    .await
    .map_err(err)?;

    let departments: [(&str, &str); 20] = [
        ("心血管内科", "cardiology"),
        ("呼吸与危重症医学科", "respiratory"),
        ("消化内科", "gastroenterology"),
        ("神经内科", "neurology"),
        ("肾内科", "nephrology"),
        ("内分泌科", "endocrinology"),
        ("血液科", "hematology"),
        ("普外科", "general_surgery"),
        ("骨科", "orthopedics"),
        ("神经外科", "neurosurgery"),
        ("泌尿外科", "urology"),
        ("妇产科", "obstetrics_gynecology"),
        ("儿科", "pediatrics"),
        ("眼科", "ophthalmology"),
        ("耳鼻咽喉科", "otolaryngology"),
        ("皮肤科", "dermatology"),
        ("肿瘤内科", "oncology"),
        ("中医科", "tcm"),
        ("康复医学科", "rehabilitation"),
        ("放射科", "radiology"),
    ];
    let mut dept_ids = std::collections::HashMap::new();
    for (name, specialty) in departments {
        let d = orgs::add_department(
            state,
            &admin,
            &hospital.id,
            NewDepartmentInput {
                name: name.into(),
                specialty: specialty.into(),
            },
        )
        .await
        .map_err(err)?;
        dept_ids.insert(specialty, d.id);
    }
    let mut chc_gp_dept = Vec::new();
    for c in &chcs {
        let d = orgs::add_department(
            state,
            &admin,
            &c.id,
            NewDepartmentInput {
                name: "全科".into(),
                specialty: "geriatrics".into(),
            },
        )
        .await
        .map_err(err)?;
        chc_gp_dept.push(d.id);
    }

    let consortium = orgs::create_consortium(
        state,
        &admin,
        NewConsortiumInput {
            name: "杭州城东医联体".into(),
            lead_org_id: hospital.id.clone(),
        },
    )
    .await
    .map_err(err)?;
    for m in chcs.iter().chain([&pharmacy]) {
        orgs::add_member(
            state,
            &admin,
            &consortium.id,
            orgs::MemberInput {
                org_id: m.id.clone(),
            },
        )
        .await
        .map_err(err)?;
    }

    let mut phone_seq = 13900000100u64;
    let mut staff_account = |role: &'static str, name: &str, scope: &str, note: String| {
        phone_seq += 1;
        (
            NewStaffAccountInput {
                name: name.into(),
                phone: phone_seq.to_string(),
                password: password(),
                role: role.into(),
                scope_id: scope.into(),
            },
            note,
        )
    };
    for (input, note) in [
        staff_account("org_admin", "赵敏", &hospital.id, DEMO_HOSPITAL.into()),
        staff_account("org_admin", "钱立", &chcs[0].id, chcs[0].name.clone()),
        staff_account(
            "consortium_admin",
            "孙悦",
            &consortium.id,
            consortium.name.clone(),
        ),
        staff_account("regulator", "周正", "", "浙江省互联网医院监管平台".into()),
    ] {
        let (phone, pw, name) = (
            input.phone.clone(),
            input.password.clone(),
            input.name.clone(),
        );
        let role = match input.role.as_str() {
            "org_admin" => "org_admin",
            "consortium_admin" => "consortium_admin",
            _ => "regulator",
        };
        orgs::create_staff_account(state, &admin, input)
            .await
            .map_err(err)?;
        accounts.push(DemoAccount {
            role,
            name,
            phone,
            password: pw,
            note,
        });
    }

    struct P(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Option<&'static str>,
        usize,
    );
    // name, title, licence, practising since, department specialty, org index (0 = hospital, 1.. = CHCs, 9 = pharmacy)
    let people = [
        P(
            "王建国",
            "chief_physician",
            "110330100000001",
            "1998-07-01",
            Some("cardiology"),
            0,
        ),
        P(
            "李淑芬",
            "associate_chief_physician",
            "110330100000002",
            "2006-08-15",
            Some("endocrinology"),
            0,
        ),
        P(
            "陈晓东",
            "attending_physician",
            "110330100000003",
            "2014-09-01",
            Some("pediatrics"),
            0,
        ),
        P(
            "刘洋",
            "resident",
            "110330100000004",
            "2024-08-01",
            Some("general_surgery"),
            0,
        ),
        P(
            "黄丽华",
            "chief_physician",
            "110330100000005",
            "2000-03-01",
            Some("radiology"),
            0,
        ),
        P(
            "张卫民",
            "attending_physician",
            "110330100000006",
            "2012-07-01",
            None,
            1,
        ),
        P(
            "吴静",
            "attending_physician",
            "110330100000007",
            "2016-07-01",
            None,
            2,
        ),
        P(
            "郑小红",
            "senior_pharmacist",
            "110330100000008",
            "2010-07-01",
            None,
            0,
        ),
        P(
            "冯涛",
            "pharmacist",
            "110330100000009",
            "2019-07-01",
            None,
            9,
        ),
        P(
            "何美玲",
            "senior_nurse",
            "110330100000010",
            "2011-07-01",
            None,
            0,
        ),
        P("许佳", "nurse", "110330100000011", "2017-07-01", None, 1),
    ];
    for (i, p) in people.iter().enumerate() {
        let (org_id, department_id) = match p.5 {
            0 => (
                hospital.id.clone(),
                p.4.and_then(|s| dept_ids.get(s).cloned()),
            ),
            9 => (pharmacy.id.clone(), None),
            n => (
                chcs[n - 1].id.clone(),
                (p.1 != "nurse").then(|| chc_gp_dept[n - 1].clone()),
            ),
        };
        let pw = password();
        let phone = format!("1380000{:04}", i + 1);
        let view = orgs::create_practitioner(
            state,
            &admin,
            &org_id,
            NewPractitionerInput {
                name: p.0.into(),
                phone: phone.clone(),
                password: pw.clone(),
                title: p.1.into(),
                licence_no: p.2.into(),
                practising_since: p.3.into(),
                department_id,
            },
        )
        .await
        .map_err(err)?;
        let role = match view.role.as_str() {
            "doctor" => "doctor",
            "pharmacist" => "pharmacist",
            _ => "nurse",
        };
        let site = view
            .affiliations
            .first()
            .map(|a| a.org_name.clone())
            .unwrap_or_default();
        accounts.push(DemoAccount {
            role,
            name: p.0.into(),
            phone,
            password: pw,
            note: format!("{} · {}", view.title_label, site),
        });
    }
    // 多点执业: the cardiologist also sees patients at a community centre.
    orgs::add_affiliation(
        state,
        &admin,
        &chcs[0].id,
        orgs::NewAffiliationInput {
            licence_no: "110330100000001".into(),
            department_id: Some(chc_gp_dept[0].clone()),
        },
    )
    .await
    .map_err(err)?;

    let patients = [
        (
            "林秀英",
            resident_id("330102", "19580312", "024"),
            "13700000001",
            "高血压、2型糖尿病复诊患者",
        ),
        (
            "赵磊",
            resident_id("330104", "19860921", "011"),
            "13700000002",
            "孩子的父亲（监护人）",
        ),
        (
            "孙婷",
            resident_id("330106", "19930705", "046"),
            "13700000003",
            "",
        ),
    ];
    for (name, rid, phone, note) in patients {
        let pw = password();
        let out = ids::sign_up(
            state,
            SignUp {
                name: name.into(),
                resident_id: rid,
                phone: phone.into(),
                password: pw.clone(),
            },
        )
        .await
        .map_err(err)?;
        if name == "赵磊" {
            let guardian = Caller {
                account_id: out.account_id.clone(),
                display_name: name.into(),
                grants: vec![(Role::Patient, String::new())],
                request_id: None,
            };
            ids::add_dependant(
                state,
                &guardian,
                NewDependantInput {
                    name: "赵小宇".into(),
                    resident_id: resident_id("330104", "20220418", "013"),
                    relation: "father".into(),
                },
            )
            .await
            .map_err(err)?;
        }
        accounts.push(DemoAccount {
            role: "patient",
            name: name.into(),
            phone: phone.into(),
            password: pw,
            note: note.into(),
        });
    }
    let _ = enterprise;
    crate::scheduling::demo::load(state, &admin, &hospital.id)
        .await
        .map_err(err)?;
    crate::imaging::demo::load(state, "林秀英", &resident_id("330102", "19580312", "024"))
        .await
        .map_err(err)?;
    crate::consultation::demo::load(state).await.map_err(err)?;
    crate::pharmacy::demo::load(state).await.map_err(err)?;
    crate::referral::demo::load(state).await.map_err(err)?;
    crate::nursing::demo::load(state, &hospital.id)
        .await
        .map_err(err)?;
    Ok(accounts)
}

/// The table printed once after loading.
pub fn print_accounts(accounts: &[DemoAccount]) {
    if accounts.is_empty() {
        println!(
            "Demo data was loaded before; its passwords were printed then. (Delete data/ to start over.)"
        );
        return;
    }
    println!(
        "Demo consortium loaded: {DEMO_HOSPITAL}, 3 community health centres, a pharmacy and an enterprise."
    );
    println!("Log in with these accounts (passwords are shown only now):");
    println!(
        "{:<17} {:<8} {:<12} {:<18} note",
        "role", "name", "phone", "password"
    );
    for a in accounts {
        println!(
            "{:<17} {:<8} {:<12} {:<18} {}",
            a.role, a.name, a.phone, a.password, a.note
        );
    }
    println!("赵磊's child 赵小宇 (born 2022) is registered under his account.");
    println!(
        "林秀英 has a chest CT with a signed report under /imaging; the SMS link to it is in the outbox (topic sms.imaging_link)."
    );
}
