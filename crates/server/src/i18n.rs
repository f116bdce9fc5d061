//! User-interface text: Simplified Chinese by default, English on request.
//! Error codes carry their own texts ([`ErrorCode`]); the assembled texts
//! hold them too, so pages and scripts explain any API error.

use std::collections::HashMap;
use std::sync::Arc;

use ihos_domain::ErrorCode;

/// The cookie that remembers the language a person chose on a page.
pub const LANG_COOKIE: &str = "ihos_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// What an error code means, in this language.
    pub fn error(self, code: ErrorCode) -> &'static str {
        match self {
            Lang::Zh => code.zh(),
            Lang::En => code.en(),
        }
    }
}

/// (key, 中文, English) rows of one table.
pub type Table = &'static [(&'static str, &'static str, &'static str)];

/// Every text of the user interface, assembled at start (`app.rs`) from the
/// kit's table and each capability's, so this module knows none of them.
pub struct Texts {
    by_key: HashMap<&'static str, (&'static str, &'static str)>,
    /// All texts as one JSON object per language, for the page script.
    json_zh: Arc<str>,
    json_en: Arc<str>,
}

impl Texts {
    /// Every error code's texts and the tables' keys. Refuses a key that
    /// two tables (or one table twice) define, and a table key that is an
    /// error code (its texts live in [`ErrorCode`] only).
    pub fn new(tables: &[Table]) -> Result<Texts, String> {
        let mut by_key: HashMap<&'static str, (&'static str, &'static str)> = ErrorCode::ALL
            .iter()
            .map(|c| (c.as_str(), (c.zh(), c.en())))
            .collect();
        for (key, zh, en) in tables.iter().flat_map(|t| t.iter()) {
            if ErrorCode::parse(key).is_some() {
                return Err(format!(
                    "the text key {key} is an error code; its texts are in ErrorCode"
                ));
            }
            if by_key.insert(*key, (*zh, *en)).is_some() {
                return Err(format!("the text key {key} is defined twice"));
            }
        }
        let json = |pick: fn(&(&'static str, &'static str)) -> &'static str| -> Arc<str> {
            let map: serde_json::Map<String, serde_json::Value> = by_key
                .iter()
                .map(|(k, v)| ((*k).to_string(), serde_json::Value::from(pick(v))))
                .collect();
            serde_json::Value::Object(map).to_string().into()
        };
        Ok(Texts {
            json_zh: json(|v| v.0),
            json_en: json(|v| v.1),
            by_key,
        })
    }

    /// The text of `key`, or "?" so a missing one shows on the page.
    pub fn t(&self, lang: Lang, key: &str) -> &'static str {
        self.by_key
            .get(key)
            .map_or("?", |(zh, en)| if lang == Lang::En { en } else { zh })
    }

    pub fn json(&self, lang: Lang) -> Arc<str> {
        if lang == Lang::En {
            self.json_en.clone()
        } else {
            self.json_zh.clone()
        }
    }
}

/// A language with the texts to speak it: what pages translate with.
#[derive(Clone)]
pub struct Tr {
    pub lang: Lang,
    texts: Arc<Texts>,
}

impl Tr {
    pub fn new(lang: Lang, texts: Arc<Texts>) -> Tr {
        Tr { lang, texts }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.texts.t(self.lang, key)
    }

    pub fn json(&self) -> Arc<str> {
        self.texts.json(self.lang)
    }
}

/// (key, 中文, English) of the kit's pages. Error codes are not keys here:
/// [`Texts::new`] adds them from [`ErrorCode`].
pub const TEXT: &[(&str, &str, &str)] = &[
    ("app_name", "ihos 互联网医院", "ihos Internet Hospital"),
    (
        "tagline",
        "线上复诊、处方、配送、转诊，一站完成",
        "Online follow-up care, prescriptions, delivery and referral in one place",
    ),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    ("signup", "注册", "Sign up"),
    ("signup_title", "患者实名注册", "Patient real-name sign-up"),
    ("name", "姓名", "Name"),
    ("resident_id", "居民身份证号", "Resident ID number"),
    ("phone", "手机号", "Mobile phone"),
    ("password", "密码", "Password"),
    (
        "password_hint",
        "至少8位，包含字母和数字",
        "At least 8 characters with letters and digits",
    ),
    ("submit_signup", "注册并登录", "Sign up and log in"),
    ("have_account", "已有账号？", "Already registered?"),
    ("no_account", "还没有账号？", "No account yet?"),
    ("home", "我的主页", "My home"),
    ("welcome", "您好", "Hello"),
    ("roles", "角色", "Roles"),
    ("my_record", "我的就诊人信息", "My patient record"),
    ("birth_date", "出生日期", "Date of birth"),
    ("age", "年龄", "Age"),
    ("sex", "性别", "Sex"),
    ("male", "男", "Male"),
    ("female", "女", "Female"),
    (
        "my_family",
        "我的家人（未成年就诊人）",
        "My family (children in my care)",
    ),
    ("add_child", "添加未成年就诊人", "Add a child"),
    ("relation", "关系", "Relation"),
    ("father", "父亲", "Father"),
    ("mother", "母亲", "Mother"),
    ("grandparent", "祖父母/外祖父母", "Grandparent"),
    ("legal_guardian", "法定监护人", "Legal guardian"),
    ("add", "添加", "Add"),
    ("none_yet", "暂无", "None yet"),
    ("access_log", "谁查看了我的病历", "Who accessed my record"),
    ("time", "时间", "Time"),
    ("action", "操作", "Action"),
    ("ground", "依据", "Ground"),
    ("practitioner_profile", "执业信息", "Practice profile"),
    ("title", "职称", "Title"),
    ("licence_no", "执业证书编号", "Licence number"),
    (
        "practising_since",
        "独立执业起始日期",
        "Independent practice since",
    ),
    (
        "years_of_practice",
        "独立执业年限",
        "Years of independent practice",
    ),
    ("online_ok", "可开展互联网诊疗", "May practise online"),
    (
        "online_not_yet",
        "独立执业未满3年，暂不能开展互联网诊疗",
        "Under 3 years of independent practice: may not practise online yet",
    ),
    ("affiliations", "执业机构（多点执业）", "Sites of practice"),
    ("organisation", "机构", "Organisation"),
    ("department", "科室", "Department"),
    ("specialty", "专科", "Specialty"),
    ("primary", "第一执业地点", "Primary site"),
    ("staff", "本机构医务人员", "Staff of this organisation"),
    ("departments", "科室", "Departments"),
    ("add_department", "新增科室", "Add a department"),
    ("add_practitioner", "新增医务人员", "Add a practitioner"),
    ("organisations", "机构", "Organisations"),
    ("add_org", "新增机构", "Add an organisation"),
    ("kind", "类型", "Kind"),
    ("level", "等级", "Level"),
    ("province", "省份", "Province"),
    ("city", "城市", "City"),
    ("hospital", "医院", "Hospital"),
    (
        "community_health_centre",
        "社区卫生服务中心",
        "Community health centre",
    ),
    ("pharmacy", "药店", "Pharmacy"),
    ("enterprise", "企业", "Enterprise"),
    ("consortium", "医联体", "Medical consortium"),
    ("members", "成员单位", "Members"),
    ("supervision", "监管概览", "Supervision overview"),
    ("count_orgs", "机构数", "Organisations"),
    ("count_patients", "注册患者", "Registered patients"),
    ("count_practitioners", "医务人员", "Practitioners"),
    ("count_audit", "审计记录", "Audit entries"),
    ("directory", "机构目录", "Directory"),
    ("saved", "已保存", "Saved"),
    ("patient", "患者", "Patient"),
    ("doctor", "医师", "Doctor"),
    ("pharmacist", "药师", "Pharmacist"),
    ("nurse", "护士", "Nurse"),
    ("org_admin", "机构管理员", "Organisation admin"),
    ("consortium_admin", "医联体管理员", "Consortium admin"),
    ("regulator", "监管人员", "Regulator"),
    ("platform_admin", "平台管理员", "Platform admin"),
    ("self", "本人", "Self"),
    ("guardian", "监护人", "Guardian"),
    ("treating_practitioner", "诊疗关系", "Treating practitioner"),
    ("regulator_supervision", "监管", "Supervision"),
    ("switch_lang", "English", "中文"),
    // the page script's own error (error codes carry their texts in ErrorCode)
    (
        "network_error",
        "网络连接失败，请检查网络后重试。",
        "Network error; check your connection and try again.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_found_by_key_and_fall_back_visibly() {
        let texts = Texts::new(&[TEXT]).unwrap();
        assert_eq!(texts.t(Lang::Zh, "login"), "登录");
        assert_eq!(texts.t(Lang::En, "login"), "Log in");
        assert_eq!(texts.t(Lang::Zh, "no-such-key"), "?");
        assert!(texts.json(Lang::En).contains("\"login\":\"Log in\""));
    }

    #[test]
    fn a_key_defined_twice_is_refused() {
        const A: Table = &[("k", "一", "one")];
        const B: Table = &[("k", "二", "two")];
        let refused = Texts::new(&[A, B]).err().unwrap_or_default();
        assert!(refused.contains("text key k"), "{refused}");
    }

    #[test]
    fn a_table_key_that_is_an_error_code_is_refused() {
        const A: Table = &[("slot_unavailable", "满", "full")];
        let refused = Texts::new(&[A]).err().unwrap_or_default();
        assert!(refused.contains("slot_unavailable"), "{refused}");
    }

    #[test]
    fn the_texts_hold_every_error_code_in_each_language() {
        let texts = Texts::new(&[TEXT]).unwrap();
        for lang in [Lang::Zh, Lang::En] {
            let json: serde_json::Value = serde_json::from_str(&texts.json(lang)).unwrap();
            for c in ErrorCode::ALL {
                assert_eq!(json[c.as_str()], lang.error(*c), "{c} in {lang:?}");
                assert_eq!(texts.t(lang, c.as_str()), lang.error(*c));
            }
            assert_eq!(json["login"], texts.t(lang, "login"));
        }
    }
}
