//! User-interface text: Simplified Chinese by default, English on request.
//! Error codes carry their own texts ([`ErrorCode`]); pages get both.

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

    /// The text for `key`: a UI key, or an error code.
    pub fn t(self, key: &str) -> &'static str {
        all_text()
            .find(|(k, _, _)| *k == key)
            .map(|(_, zh, en)| if self == Lang::En { *en } else { *zh })
            .or_else(|| ErrorCode::parse(key).map(|c| self.error(c)))
            .unwrap_or("?")
    }

    /// What an error code means, in this language.
    pub fn error(self, code: ErrorCode) -> &'static str {
        match self {
            Lang::Zh => code.zh(),
            Lang::En => code.en(),
        }
    }
}

/// Every capability module with UI text contributes its own table here.
const TABLES: &[&[(&str, &str, &str)]] = &[
    TEXT,
    crate::scheduling::TEXT,
    crate::imaging::TEXT,
    crate::consultation::TEXT,
    crate::pharmacy::TEXT,
    crate::payment::TEXT,
    crate::referral::TEXT,
    crate::nursing::TEXT,
    crate::followup::TEXT,
];

fn all_text() -> impl Iterator<Item = &'static (&'static str, &'static str, &'static str)> {
    TABLES.iter().flat_map(|t| t.iter())
}

/// (key, 中文, English). Error codes double as keys so the UI can explain
/// any API error in the user's language.
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

/// The texts for the page script: every UI key and every error code, so a
/// script shows any API error as `texts[body.error]`.
pub fn error_texts(lang: Lang) -> String {
    let map: serde_json::Map<String, serde_json::Value> = all_text()
        .map(|(k, zh, en)| (*k, if lang == Lang::En { *en } else { *zh }))
        .chain(ErrorCode::ALL.iter().map(|c| (c.as_str(), lang.error(*c))))
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_fall_back_visibly() {
        let mut keys: Vec<_> = all_text().map(|t| t.0).collect();
        keys.sort_unstable();
        let n = keys.len();
        keys.dedup();
        assert_eq!(keys.len(), n, "duplicate i18n key");
        // An error code's texts live in ErrorCode only.
        let clash: Vec<_> = keys
            .iter()
            .filter(|k| ErrorCode::parse(k).is_some())
            .collect();
        assert!(clash.is_empty(), "UI keys that are error codes: {clash:?}");
        assert_eq!(Lang::Zh.t("login"), "登录");
        assert_eq!(Lang::En.t("login"), "Log in");
        assert_eq!(Lang::Zh.t("no-such-key"), "?");
        assert_eq!(
            Lang::En.t("slot_unavailable"),
            ErrorCode::SlotUnavailable.en()
        );
    }

    #[test]
    fn the_page_texts_hold_every_error_code_in_the_page_language() {
        for lang in [Lang::Zh, Lang::En] {
            let texts: serde_json::Value = serde_json::from_str(&error_texts(lang)).unwrap();
            for c in ErrorCode::ALL {
                assert_eq!(texts[c.as_str()], lang.error(*c), "{c} in {lang:?}");
            }
            assert_eq!(texts["login"], lang.t("login"));
        }
    }
}
