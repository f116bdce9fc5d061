//! Every error code of ihos: one [`ErrorCode`] enum, each code with its
//! stable snake_case string (what clients and tests match on), a Chinese
//! text and an English text a person can act on. Pure: no IO.

use std::fmt;

/// `Variant => "code", "中文", "English";` one line a code.
macro_rules! error_codes {
    ($($variant:ident => $code:literal, $zh:literal, $en:literal;)*) => {
        /// Every error code of ihos. The string of a code never changes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable snake_case code, e.g. `slot_unavailable`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// What the code means, in Simplified Chinese.
            pub const fn zh(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $zh,)*
                }
            }

            /// What the code means, in English.
            pub const fn en(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $en,)*
                }
            }
        }
    };
}

error_codes! {
    NotFound => "not_found",
        "记录不存在或无权查看。",
        "No such record, or you may not see it.";
    InvalidStatus => "invalid_status",
        "状态值无效。",
        "Unknown status; use one of the listed statuses.";
    InvalidTier => "invalid_tier",
        "问诊级别无效，请选择全科、专科或名医工作室。",
        "Unknown consultation tier; choose gp, specialist or expert_studio.";
    NoHigherTier => "no_higher_tier",
        "名医工作室已是最高级别，如需进一步诊治请线下转诊。",
        "An expert's studio is the highest tier; refer the patient offline instead.";
    DoctorTierMismatch => "doctor_tier_mismatch",
        "该问诊级别需要更高职称的医师，请另选医师。",
        "This consultation tier needs a doctor of a higher title; choose another doctor.";
    InvalidEvidence => "invalid_evidence",
        "复诊依据无效，请选择本平台就诊记录、门诊病历或出院记录。",
        "Evidence is a platform visit, an outpatient record or a discharge record.";
    FirstVisitNotAllowed => "first_visit_not_allowed",
        "线上问诊仅限复诊：请先在线下确诊，并上传门诊病历或出院小结，或选择平台上的既往就诊记录。",
        "Online consultation is for follow-up visits only: attach an earlier visit or upload an outpatient or discharge record.";
    QualificationRequired => "qualification_required",
        "请先核对凭证并确认患者符合复诊条件，或拒绝并说明原因。",
        "Confirm the patient qualifies for a follow-up, or decline with a reason.";
    GuardianMustBePresent => "guardian_must_be_present",
        "6岁以下儿童须由登记的监护人陪同问诊：请由监护人发起并确认在场。",
        "Children under 6 consult only with their registered guardian present.";
    NotADoctor => "not_a_doctor",
        "仅医师可开展在线问诊或设置出诊时段。",
        "Only doctors give online consultations and have consultation hours.";
    DoctorNotEligibleOnline => "doctor_not_eligible_online",
        "该医生独立执业不满3年，不能提供线上问诊，请选择其他医生。",
        "This doctor has fewer than 3 years of independent practice and may not consult online.";
    InvalidField => "invalid_field",
        "有字段缺失或格式不正确。",
        "A field is missing or malformed.";
    InvalidClientId => "invalid_client_id",
        "消息编号无效：1-64位字母、数字、“-”或“_”，每条消息唯一。",
        "client_id is 1 to 64 letters, digits, '-' or '_' and unique per message.";
    UnsupportedPicture => "unsupported_picture",
        "请上传 JPEG、PNG、WebP 图片或 PDF 病历。",
        "Upload a JPEG, PNG or WebP picture or a PDF record.";
    InvalidRating => "invalid_rating",
        "请给出1-5星评价。",
        "Give 1 to 5 stars.";
    ReviewNotOpen => "review_not_open",
        "问诊完成后才能评价。",
        "You can review once the consultation is complete.";
    InvalidKind => "invalid_kind",
        "类型无效，请从列表中选择。",
        "Unknown kind; choose one from the list.";
    InvalidTemplate => "invalid_template",
        "随访模板内容不完整或有误，请检查后重试。",
        "The follow-up template is incomplete or wrong; check it and try again.";
    InvalidOccasion => "invalid_occasion",
        "请选择出院随访或诊后随访。",
        "Choose discharge or visit.";
    InvalidResult => "invalid_result",
        "请检查填写的数值。",
        "Check the values.";
    InvalidResidentId => "invalid_resident_id",
        "身份证号无效：请核对18位号码，最后一位校验码不符通常是输错了一位。",
        "The resident ID number is not valid; check all 18 characters.";
    InvalidPhone => "invalid_phone",
        "手机号应为11位数字，以13-19开头。",
        "A mobile number has 11 digits and starts with 13-19.";
    InvalidName => "invalid_name",
        "请填写身份证上的真实姓名（2-30个字，不含数字或符号）。",
        "Enter your real name as on your ID card (2-30 letters).";
    WeakPassword => "weak_password",
        "密码太弱：至少8位，须同时包含字母和数字，不能包含手机号或常见密码。",
        "Password too weak: 8+ characters mixing letters and digits, not your phone or a common password.";
    InvalidRole => "invalid_role",
        "角色无效：患者自行注册，医务人员由所在机构添加。",
        "Unknown role: patients sign up themselves and practitioners are added by their organisation.";
    InvalidTitle => "invalid_title",
        "请选择职称。",
        "Choose a title.";
    InvalidLicence => "invalid_licence",
        "执业证书编号为6-30位字母或数字。",
        "A licence number has 6-30 letters or digits.";
    InvalidConsentDays => "invalid_consent_days",
        "授权天数为1至365天",
        "A consent lasts 1 to 365 days";
    InvalidDate => "invalid_date",
        "日期格式不正确，请按“年-月-日”填写，如 2026-03-01。",
        "Enter the date as YYYY-MM-DD, e.g. 2026-03-01.";
    InvalidQualification => "invalid_qualification",
        "资质类型不正确。",
        "Unknown qualification.";
    InvalidServiceCode => "invalid_service_code",
        "服务编码为小写字母、数字或下划线。",
        "Codes are lower-case letters, digits or '_'.";
    InvalidServiceFee => "invalid_service_fee",
        "费用不正确。",
        "Check the fee.";
    InvalidDuration => "invalid_duration",
        "上门服务时长应为15-480分钟。",
        "A home visit lasts 15 to 480 minutes.";
    InvalidMinYears => "invalid_min_years",
        "最低执业年限不能低于医院设置。",
        "The least years cannot be below the hospital's setting.";
    NotANurse => "not_a_nurse",
        "只能派给护士。",
        "Only nurses make home visits.";
    NurseNotQualified => "nurse_not_qualified",
        "该护士不符合此项服务的执业年限或资质要求。",
        "This nurse lacks the years or qualification this service needs.";
    NursingAssessmentRequired => "nursing_assessment_required",
        "居家护理需先经本院医生或护士评估（近期在本院完成问诊或就诊，或有评估记录）。",
        "Home nursing needs an assessment by this hospital first.";
    InvalidVisitTime => "invalid_visit_time",
        "请填写日期和时间。",
        "Give a date and time.";
    InvalidVisitWindow => "invalid_visit_window",
        "上门时间不符合要求（需提前预约，时段不超过4小时）。",
        "Check the visit window (ordered ahead, at most 4 hours).";
    InvalidAddress => "invalid_address",
        "请填写完整的上门地址。",
        "Give the full address.";
    InvalidLocation => "invalid_location",
        "位置坐标不正确。",
        "Check the location.";
    NursingRecordRequired => "nursing_record_required",
        "签退前请填写护理内容。",
        "Record what was done before checking out.";
    IllegalTransition => "illegal_transition",
        "当前状态下不能进行此操作。",
        "This is not possible in the record's current state.";
    ConsultationClosed => "consultation_closed",
        "本次问诊已结束。",
        "This consultation has ended.";
    NotReviewable => "not_reviewable",
        "服务完成后才能评价。",
        "A visit can be reviewed once completed.";
    InvalidOrgKind => "invalid_org_kind",
        "机构类型无效，请选择医院、社区卫生服务中心、药店或企业。",
        "Unknown organisation kind; use hospital, community health centre, pharmacy or enterprise.";
    InvalidHospitalLevel => "invalid_hospital_level",
        "医院等级无效：医院须填写等级（如三级甲等），其他机构不填。",
        "Hospital level is wrong: a hospital needs its level (e.g. 三级甲等); other organisations have none.";
    InvalidSpecialty => "invalid_specialty",
        "请选择36个专科之一。",
        "Choose one of the 36 specialties.";
    PayInvalidItem => "pay_invalid_item",
        "订单项目不正确。",
        "An order item is not valid; reload the order and try again.";
    PayInvalidAmount => "pay_invalid_amount",
        "金额不正确。",
        "The amount is not valid; check it.";
    PayInvalidStatus => "pay_invalid_status",
        "订单状态不正确。",
        "Invalid order status.";
    PayOrderLocked => "pay_order_locked",
        "订单已支付或正在支付，不能再添加项目。",
        "The order is paid or being paid; nothing can be added.";
    PayNothingToPay => "pay_nothing_to_pay",
        "订单暂无需支付的项目。",
        "Nothing to pay yet.";
    PayInProgress => "pay_in_progress",
        "该订单正在支付中，请等待支付结果。",
        "A payment is in progress; wait for its result.";
    PayAlreadyPaid => "pay_already_paid",
        "本次就诊已支付，最多支付一次。",
        "This visit is already paid (at most once).";
    PayOrderClosed => "pay_order_closed",
        "订单已关闭或取消。",
        "The order is closed or cancelled.";
    RxInvalidControl => "rx_invalid_control",
        "管制类别不正确。",
        "Invalid control class.";
    RxInvalidInsurance => "rx_invalid_insurance",
        "医保类别不正确。",
        "Invalid insurance category.";
    RxUnknownDrug => "rx_unknown_drug",
        "药品目录中没有此药品。",
        "This drug is not in the catalogue.";
    RxControlledDrug => "rx_controlled_drug",
        "特殊管理药品（麻醉、精神、毒性、放射性、易制毒等）不得在线开具，请线下就诊。",
        "Specially controlled drugs are never prescribed online; see a doctor in person.";
    RxInvalidKind => "rx_invalid_kind",
        "处方类型为急性或慢性。",
        "The kind is acute or chronic.";
    RxEmpty => "rx_empty",
        "请至少添加一种药品。",
        "Add at least one drug.";
    RxTooManyItems => "rx_too_many_items",
        "每张处方最多5种药品。",
        "At most 5 drugs per prescription.";
    RxWeightRequired => "rx_weight_required",
        "6岁以下儿童须填写体重以按体重给药。",
        "Children under 6 need their weight for dosing.";
    RxDuplicateDrug => "rx_duplicate_drug",
        "同一药品重复开具。",
        "The same drug is on the prescription twice.";
    RxAllergy => "rx_allergy",
        "患者对该药品或其类别有过敏记录，不能开具。",
        "The patient has a recorded allergy to this drug or its class.";
    RxInvalidQuantity => "rx_invalid_quantity",
        "数量不正确。",
        "Invalid quantity.";
    RxDaysExceeded => "rx_days_exceeded",
        "用药天数超过上限（急性病7天，慢性病12周）。",
        "Days' supply exceeds the limit (7 acute, 12 weeks chronic).";
    RxInvalidUsage => "rx_invalid_usage",
        "请填写用量和频次。",
        "Give the dose and frequency.";
    RxInvalidAllergy => "rx_invalid_allergy",
        "请填写过敏药物或类别。",
        "Name the substance or class.";
    RxInvalidStatus => "rx_invalid_status",
        "状态不正确。",
        "Invalid status.";
    RxWrongState => "rx_wrong_state",
        "处方当前状态不允许此操作。",
        "Not possible in the prescription's current state.";
    RxNotApproved => "rx_not_approved",
        "处方未经药师审核通过，不能支付、发药或配送。",
        "Not approved by a pharmacist: nothing can be paid, dispensed or shipped.";
    RxReasonRequired => "rx_reason_required",
        "请填写驳回理由。",
        "Give the reason for rejecting the prescription.";
    RxInvalidMethod => "rx_invalid_method",
        "请选择取药方式。",
        "Choose how to get the drugs.";
    RxNotPaid => "rx_not_paid",
        "订单尚未支付，不能发药或发货。",
        "Not paid yet: nothing is dispensed or shipped.";
    RxAlreadyDispensed => "rx_already_dispensed",
        "该处方已发药，不能重复发药。",
        "This prescription has already been dispensed.";
    RefInvalidDirection => "ref_invalid_direction",
        "转诊方向应为上转或下转。",
        "Direction is 'up' or 'down'.";
    RefInvalidKind => "ref_invalid_kind",
        "转诊类型应为就诊或检查。",
        "Kind is 'visit' or 'exam'.";
    RefInvalidStatus => "ref_invalid_status",
        "转诊或床位申请的状态无效。",
        "Unknown referral or bed request status.";
    RefAlreadyEnded => "ref_already_ended",
        "该转诊已结束，不能再操作。",
        "This referral has ended.";
    RefIllegalTransition => "ref_illegal_transition",
        "当前状态下不能执行此操作，请刷新查看最新状态。",
        "This step is not possible in the referral's current state; reload it.";
    RefNotYourTurn => "ref_not_your_turn",
        "此步骤应由转诊的另一方完成。",
        "The other side of the referral takes this step.";
    RefInvalidExamType => "ref_invalid_exam_type",
        "检查类型应为CT、MRI、超声或X线。",
        "Exam type is ct, mri, ultrasound or xray.";
    RefNeedsPrivilege => "ref_needs_privilege",
        "您没有该大型设备检查的开单权限，请转诊给有权限的上级医院医生。",
        "You may not order this exam; refer it to a qualified doctor.";
    RefDuplicateExam => "ref_duplicate_exam",
        "患者近期已在医联体成员单位做过此项检查，请先查阅既往结果；确需复查请填写理由。",
        "The patient had this exam recently at a consortium member; read the earlier result, or give a reason to repeat it.";
    RefTextRequired => "ref_text_required",
        "请填写必填项。",
        "Please fill in the required field.";
    RefTextTooLong => "ref_text_too_long",
        "内容过长，请精简后重试。",
        "The text is too long; shorten it and try again.";
    RefInvalidBeds => "ref_invalid_beds",
        "病区床位数应为1-2000张。",
        "A ward has 1 to 2000 beds.";
    InvalidSlotType => "invalid_slot_type",
        "号别不正确",
        "Unknown slot type";
    InvalidMode => "invalid_mode",
        "方式为线上或线下",
        "Mode is online or in person";
    InvalidTime => "invalid_time",
        "时间格式为 HH:MM",
        "Times are HH:MM";
    InvalidHours => "invalid_hours",
        "出诊时间不正确",
        "Check the hours";
    InvalidSlotLength => "invalid_slot_length",
        "每段时长为 5/10/15/20/30/60 分钟",
        "Slots last 5, 10, 15, 20, 30 or 60 minutes";
    InvalidCapacity => "invalid_capacity",
        "每段号源为 1 至 500",
        "1 to 500 patients per slot";
    InvalidFee => "invalid_fee",
        "挂号费不正确",
        "Check the fee";
    InvalidWeekday => "invalid_weekday",
        "星期为 1 至 7",
        "Weekday is 1 to 7";
    SlotNotReleased => "slot_not_released",
        "该时段尚未放号",
        "This slot is not open for booking yet";
    SlotStarted => "slot_started",
        "该时段已开始",
        "This slot has already started";
    TooLateToCancel => "too_late_to_cancel",
        "就诊已开始，无法取消",
        "Too late to cancel";
    NoSuchEndpoint => "no_such_endpoint",
        "没有该接口或操作，请参阅接口文档。",
        "There is no such endpoint or step; see /api/openapi.json.";
    NoSuchDoctor => "no_such_doctor",
        "没有该医师。",
        "There is no such doctor.";
    EmergencyCall120 => "emergency_call_120",
        "您描述的症状可能危及生命，请立即拨打120或前往最近医院的急诊科，不要等待线上问诊。",
        "These symptoms may be life-threatening: call 120 or go to the nearest emergency department now; do not wait for an online consultation.";
    CrisisHotline => "crisis_hotline",
        "你并不孤单：请现在拨打全国心理援助热线12356；如果已经伤害了自己或正处在危险中，请立即拨打120或110。",
        "You are not alone: call the national psychological assistance hotline 12356 now; if you have hurt yourself or are in danger, call 120 or 110 immediately.";
    ComplaintTooLong => "complaint_too_long",
        "病情描述最多1000个字，请简要描述主要不适。",
        "Describe the complaint in at most 1000 characters.";
    ComplaintEmpty => "complaint_empty",
        "请用几句话描述哪里不舒服。",
        "Describe how you feel in a few words.";
    InvalidDepartment => "invalid_department",
        "该医师不在此科室出诊。",
        "The doctor does not work in this department.";
    InvalidAttachment => "invalid_attachment",
        "请先将图片上传到本次问诊，再发送其编号。",
        "Upload the picture to this consultation first and send its id.";
    PictureTooLarge => "picture_too_large",
        "图片过大。",
        "The picture is too large.";
    PackageExhausted => "package_exhausted",
        "服务包次数已用完或已过期。",
        "This service package has no consultations left or has ended.";
    ConsultationChanged => "consultation_changed",
        "该问诊刚被他人修改，请刷新后重试。",
        "Someone changed this consultation at the same moment; reload it and try again.";
    ChatClosed => "chat_closed",
        "医生接诊后才能发送消息，问诊结束后不能再发送。",
        "Messages can be sent once the doctor has accepted and until the consultation ends.";
    AlreadyReviewed => "already_reviewed",
        "您已评价过本次问诊。",
        "You have already reviewed this consultation.";
    ReplyNotPossible => "reply_not_possible",
        "暂无可回复的评价，或您已回复过。",
        "There is no review to answer yet, or you have answered it already.";
    MalformedFrame => "malformed_frame",
        "消息格式有误，请刷新页面后重试。",
        "The message frame is malformed; reload the page and try again.";
    MalformedJson => "malformed_json",
        "提交的数据格式有误。",
        "The submitted data is malformed.";
    InvalidQuery => "invalid_query",
        "查询参数有误。",
        "A query parameter is missing or malformed.";
    InvalidPath => "invalid_path",
        "请求地址有误。",
        "The address of the request is malformed.";
    PhoneTaken => "phone_taken",
        "该手机号已注册，请直接登录。",
        "This phone number already has an account; log in instead.";
    ResidentIdTaken => "resident_id_taken",
        "该身份证号已注册，请直接登录。",
        "This resident ID number is already registered; log in instead.";
    LicenceTaken => "licence_taken",
        "该执业证书编号已存在。",
        "This licence number already exists.";
    NameTaken => "name_taken",
        "名称已被使用。",
        "This name is already in use.";
    Duplicate => "duplicate",
        "该记录已存在。",
        "This record already exists.";
    Unauthenticated => "unauthenticated",
        "请先登录。",
        "Please log in first.";
    Forbidden => "forbidden",
        "您没有执行此操作的权限。",
        "You may not do this.";
    CrossSiteRequest => "cross_site_request",
        "此操作只能在本平台的页面上进行；来自其他网站或页面的请求已被拒绝。",
        "This can only be done from this platform's own pages; a request from another site or page was refused.";
    InternalError => "internal_error",
        "系统繁忙，请稍后重试；本次未保存任何数据。",
        "Something went wrong; nothing was saved. Please try again.";
    UnsupportedMediaType => "unsupported_media_type",
        "不支持的提交格式。",
        "This content type is not accepted here.";
    UnknownTemplate => "unknown_template",
        "没有这个随访模板。",
        "No such template.";
    InvalidConsultation => "invalid_consultation",
        "该问诊不是您与此患者的问诊。",
        "That is not one of your consultations with this patient.";
    NoCareRelationship => "no_care_relationship",
        "只能为在管患者（有问诊、转诊或随访关系）制定随访计划。",
        "You can assign plans only to patients in your care.";
    TaskNotYetDue => "task_not_yet_due",
        "该任务尚未到期（到期前一天开放）。",
        "This task is not due yet.";
    GuardianRequired => "guardian_required",
        "未满18周岁的患者须由监护人在“我的家人”中添加。",
        "Patients under 18 are added by a guardian under 'My family'.";
    InvalidRelation => "invalid_relation",
        "请选择与孩子的关系。",
        "Choose your relation to the child.";
    NotAMinor => "not_a_minor",
        "只能添加未满18周岁的家人；成年人请自行注册。",
        "Only children under 18 can be added; adults sign up themselves.";
    TooManyAttempts => "too_many_attempts",
        "登录失败次数过多，请15分钟后再试。",
        "Too many failed logins; try again in 15 minutes.";
    InvalidCredentials => "invalid_credentials",
        "手机号或密码错误。",
        "Phone number or password is wrong.";
    NotDicom => "not_dicom",
        "不是DICOM文件",
        "Not a DICOM file";
    InvalidDicom => "invalid_dicom",
        "DICOM文件损坏或不完整",
        "The DICOM file is damaged or incomplete";
    MissingUid => "missing_uid",
        "DICOM文件缺少唯一标识",
        "The DICOM file lacks a UID";
    InvalidUid => "invalid_uid",
        "DICOM UID无效（仅数字和点，最长64位）。",
        "Not a valid DICOM UID (digits and dots, at most 64).";
    InvalidPixelData => "invalid_pixel_data",
        "图像数据不完整",
        "The pixel data is incomplete";
    NoSuchFrame => "no_such_frame",
        "没有该帧，帧号从1开始。",
        "No such frame; frames are numbered from 1.";
    CannotRender => "cannot_render",
        "无法显示该影像的像素数据。",
        "The pixel data cannot be shown.";
    PayloadTooLarge => "payload_too_large",
        "上传内容过大，请分批上传。",
        "The upload is larger than this server accepts; send fewer instances per request.";
    NoBoundary => "no_boundary",
        "分段上传的内容类型缺少分隔符（boundary）。",
        "The multipart Content-Type has no boundary.";
    MalformedMultipart => "malformed_multipart",
        "分段上传的内容无法读取。",
        "The multipart/related body cannot be read.";
    InvalidWindow => "invalid_window",
        "窗宽窗位格式错误",
        "The window is centre,width in numbers, e.g. 40,400.";
    InvalidFindings => "invalid_findings",
        "请填写检查所见（最多10000字）。",
        "Findings are required (at most 10,000 characters).";
    InvalidImpression => "invalid_impression",
        "请填写诊断意见（最多2000字）。",
        "The impression is required (at most 2,000 characters).";
    InvalidCode => "invalid_code",
        "请输入短信中的6位数字",
        "Enter the 6 digits from the SMS";
    UnknownPractitioner => "unknown_practitioner",
        "未找到该医生",
        "No such practitioner";
    UnknownPatient => "unknown_patient",
        "没有该患者，或您不能为其办理：请选择本人或您监护的儿童。",
        "No such patient, or not one you may act for: choose yourself or a child in your care.";
    ReportSigned => "report_signed",
        "报告已签发，不能修改",
        "The report is signed and cannot change";
    StudyNotLinked => "study_not_linked",
        "请先在待核对列表中将该检查关联到患者。",
        "Link the study to a patient first (review queue).";
    NoPhone => "no_phone",
        "未登记手机号",
        "No phone number on record";
    LinkInvalid => "link_invalid",
        "链接无效或已过期",
        "The link is invalid or has expired";
    TooManyCodes => "too_many_codes",
        "获取验证码过于频繁，请稍后再试",
        "Too many codes; please wait";
    NoInstances => "no_instances",
        "请求中没有DICOM影像。",
        "The request holds no application/dicom part.";
    WrongCode => "wrong_code",
        "验证码错误、已使用或已过期，请重新获取",
        "Wrong, used or expired code; ask for a new one";
    PatientRequired => "patient_required",
        "请指明分享哪位患者的影像。",
        "Name the patient (patient_id) whose images you share.";
    StudyMismatch => "study_mismatch",
        "该影像不属于此检查。",
        "The instance belongs to another study than the one in the address.";
    UidConflict => "uid_conflict",
        "已有相同UID但内容不同的影像。",
        "An instance with this UID but other content is already stored.";
    TextTooLong => "text_too_long",
        "内容过长，请精简后重试。",
        "The text is too long; shorten it and try again.";
    NotACareProvider => "not_a_care_provider",
        "仅医院和社区卫生服务中心可提供上门护理。",
        "Only hospitals and community health centres offer home nursing.";
    NoSuchNurse => "no_such_nurse",
        "本院没有该护士。",
        "There is no such nurse at this hospital.";
    InvalidNote => "invalid_note",
        "请填写记录内容（1-1000字）。",
        "Write what you observed or assessed (1-1000 characters).";
    NoSuchService => "no_such_service",
        "没有该护理服务项目。",
        "There is no such nursing service.";
    OrderChanged => "order_changed",
        "订单刚被他人更新，请刷新后重试。",
        "The order just changed; reload and try again.";
    ServiceCodeTaken => "service_code_taken",
        "本院已有相同编码的服务。",
        "This hospital already has a service with that code.";
    OrderCancelled => "order_cancelled",
        "订单已取消。",
        "This order was cancelled.";
    NotInVisit => "not_in_visit",
        "仅在已接单或护理中的订单上可发送安全预警。",
        "Safety alerts are for visits you accepted or are at.";
    NursingAlreadyReviewed => "nursing_already_reviewed",
        "您已评价过本次护理服务。",
        "You have already reviewed this visit.";
    NoDepartments => "no_departments",
        "仅医院和社区卫生服务中心设有临床科室。",
        "Only hospitals and community health centres have clinical departments.";
    UnknownOrg => "unknown_org",
        "没有该机构。",
        "No such organisation.";
    LeadNotHospital => "lead_not_hospital",
        "医联体须由医院牵头。",
        "A consortium is led by a hospital.";
    UnknownConsortium => "unknown_consortium",
        "没有该医联体。",
        "No such consortium.";
    UnknownDepartment => "unknown_department",
        "科室不属于本机构。",
        "That department is not in this organisation.";
    RoleNotAllowedHere => "role_not_allowed_here",
        "该类机构不能聘用此类医务人员。",
        "This kind of organisation cannot employ that practitioner.";
    UnknownLicence => "unknown_licence",
        "没有持该执业证书编号的医务人员。",
        "No practitioner holds that licence number.";
    AlreadyAffiliated => "already_affiliated",
        "该医务人员已在本机构执业。",
        "This practitioner already works here.";
    PayProviderUnavailable => "pay_provider_unavailable",
        "支付服务暂不可用，请稍后重试。",
        "The payment service is unavailable; try again.";
    PayBadSignature => "pay_bad_signature",
        "支付通知签名错误。",
        "Bad notification signature.";
    PayBadNotification => "pay_bad_notification",
        "支付通知格式错误。",
        "Malformed notification.";
    PayAmountMismatch => "pay_amount_mismatch",
        "支付通知与订单金额不符。",
        "The notification does not match the payment.";
    PayCancelTheVisit => "pay_cancel_the_visit",
        "请直接取消上门护理订单，其费用将随之取消或退款。",
        "Cancel the home-nursing order itself; its payment is cancelled or refunded with it.";
    PayNotRefundable => "pay_not_refundable",
        "药品已发出，不能在线取消退款。",
        "Drugs were handed over; the order cannot be cancelled online.";
    PayAlreadyRefunded => "pay_already_refunded",
        "该订单已退款。",
        "This order has already been refunded.";
    RxInvalidField => "rx_invalid_field",
        "输入不正确。",
        "A field of the prescription is not valid; check it and try again.";
    RxInvalidWeight => "rx_invalid_weight",
        "体重应在0.5到300公斤之间。",
        "Weight must be 0.5-300 kg.";
    RxBadCode => "rx_bad_code",
        "取药码不正确。",
        "The code does not match.";
    RxTrackingRequired => "rx_tracking_required",
        "快递发货需要填写运单号。",
        "A courier shipment needs its tracking number.";
    RxVisitSettled => "rx_visit_settled",
        "本次就诊已支付，不能再添加处方。",
        "This visit is paid; no more prescriptions can be added.";
    RxConsultationNotOpen => "rx_consultation_not_open",
        "只能在已接诊、进行中的问诊内开具处方。",
        "Prescribe inside an accepted or running consultation.";
    RxChanged => "rx_changed",
        "处方刚被他人修改，请刷新。",
        "Someone changed this just now; reload.";
    RxFulfilmentFixed => "rx_fulfilment_fixed",
        "订单已支付，取药方式不能再修改。",
        "The order is paid; the method can no longer change.";
    RxReviewPending => "rx_review_pending",
        "本次就诊有处方正在等待药师审核，审核后再一次性支付。",
        "A prescription is waiting for review; pay once after it.";
    RefInvalidTime => "ref_invalid_time",
        "时间无效，请按“时:分”填写未来的时间。",
        "Enter a future time as HH:MM.";
    RefInvalidCapacity => "ref_invalid_capacity",
        "可预约人数应为1-200人。",
        "Capacity is 1 to 200 patients.";
    RefUnknownWard => "ref_unknown_ward",
        "没有该病区。",
        "No such ward.";
    RefNotInConsortium => "ref_not_in_consortium",
        "双方不在同一医联体内。",
        "Not in the same consortium.";
    RefTooManyStudies => "ref_too_many_studies",
        "最多附带20项检查。",
        "Attach at most 20 studies.";
    RefUnknownDoctor => "ref_unknown_doctor",
        "所选医生不在接收机构执业。",
        "That doctor does not work there.";
    RefUnknownStudy => "ref_unknown_study",
        "附带的检查不属于该患者。",
        "An attached study is not one of this patient's studies.";
    RefExamSlotExists => "ref_exam_slot_exists",
        "该检查在此时间已有号源。",
        "There is already a slot for this exam at this time.";
    RefNoFreeBeds => "ref_no_free_beds",
        "病区已无空床。",
        "The ward has no free bed.";
    RefAlreadyAnswered => "ref_already_answered",
        "该会诊已答复。",
        "This remote consultation has already been answered.";
    RefUnknownPatient => "ref_unknown_patient",
        "未找到该患者，请患者先实名注册。",
        "No such patient; they sign up first.";
    RefUnknownOrg => "ref_unknown_org",
        "没有该接收机构。",
        "No such receiving organisation.";
    RefWrongDirection => "ref_wrong_direction",
        "上转：社区到医院；下转：医院到社区。",
        "Up: community to hospital; down: the other way.";
    RefReceiverRequired => "ref_receiver_required",
        "请选择接收科室或医生。",
        "Choose the receiving department or doctor.";
    RefReceiverNotQualified => "ref_receiver_not_qualified",
        "所选医生没有该检查的开单权限。",
        "That doctor may not order this exam.";
    RefExamSlotRequired => "ref_exam_slot_required",
        "请选择检查时段。",
        "Choose an exam slot.";
    RefUnknownExamSlot => "ref_unknown_exam_slot",
        "该检查号源不属于本院此项检查。",
        "That exam slot is not one of this hospital's slots for this exam.";
    RefUnknownSlot => "ref_unknown_slot",
        "该号源不是接收医院的可预约号源。",
        "That slot is not an open slot of the receiving hospital.";
    RefExamSlotFull => "ref_exam_slot_full",
        "该检查时段已约满，请选择其他时段。",
        "This exam slot is full; choose another.";
    DoubleBooking => "double_booking",
        "同一时间已有预约",
        "You already have a booking at this time";
    NotAffiliated => "not_affiliated",
        "医生不在该机构执业",
        "The doctor does not work here";
    OrgMismatch => "org_mismatch",
        "排班模板属于其所在机构，如需在其他机构出诊请另建模板。",
        "A template stays at its organisation; remove it and create one at the other.";
    SlotUnavailable => "slot_unavailable",
        "该时段已约满，请选择其他时段或医生",
        "This slot is fully booked; please choose another time or doctor.";
    NoNewSlots => "no_new_slots",
        "没有新增号源",
        "These hours add no slot";
    DailyLimitReached => "daily_limit_reached",
        "已达每日预约上限",
        "Daily booking limit reached";
    NotCancellable => "not_cancellable",
        "该预约无法取消",
        "This appointment cannot be cancelled";
    NotStarted => "not_started",
        "尚未开始",
        "This has not started yet; try again when it has.";
}

impl ErrorCode {
    /// The code for a snake_case string, if there is one.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Tests and clients compare codes with their wire strings.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_unique_snake_case_with_both_texts() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            let s = c.as_str();
            assert!(seen.insert(s), "code {s} is listed twice");
            assert!(
                !s.is_empty()
                    && s.starts_with(|ch: char| ch.is_ascii_lowercase())
                    && s.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                    && !s.ends_with('_')
                    && !s.contains("__"),
                "code {s} is not snake_case"
            );
            assert!(
                c.zh()
                    .chars()
                    .any(|ch| ('\u{4e00}'..='\u{9fff}').contains(&ch)),
                "code {s} has no Chinese text"
            );
            assert!(
                c.en().chars().filter(|ch| ch.is_ascii_alphabetic()).count() >= 5,
                "code {s} has no English text"
            );
            assert_ne!(
                c.zh(),
                c.en(),
                "code {s}: the Chinese text is the English one"
            );
            assert_eq!(ErrorCode::parse(s), Some(*c));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn a_code_serialises_as_its_string() {
        assert_eq!(
            serde_json::to_string(&ErrorCode::SlotUnavailable).unwrap(),
            "\"slot_unavailable\""
        );
        assert_eq!(ErrorCode::InvalidDate, "invalid_date");
    }
}
