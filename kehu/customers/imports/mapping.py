"""What a file column may be imported into, suggestions from header names, and text → value coercion.

Targets are the customer profile fields, kind, account, owner, tags, custom fields (`custom.<key>`), extra
phones and emails, the WeChat id, marketing consent per channel and, for matching, the customer id. A user is
offered only the targets they may write: hidden and read-only fields (field-level rights) and the owner
without the transfer right are left out, and a mapping naming them is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from kehu.core import customfields
from kehu.core.access import Access
from kehu.core.models import Action

from .. import normalize
from ..models import PROFILE_FIELDS, Channel, ConsentStatus, Customer, Kind
from . import reader

# single-valued targets; the others (extra phones, extra emails, tags) may take several columns
MULTI = {"extra_phone", "extra_email", "tags"}
MAX_ID = 2**63 - 1  # the database's id range: larger numbers are not ids
SPLIT = re.compile(r"\s*[;,，；、|/\n]\s*")


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    #: the Customer field whose field-level right governs this target
    field: str | None

    @property
    def multiple(self) -> bool:
        return self.key in MULTI


def _norm(text: str) -> str:
    """Header comparison key: half-width, lower-case, without spaces, punctuation and '(required)' notes."""
    text = normalize.clean_text(reader.cell_text(text)).lower()
    text = re.sub(r"[（(][^）)]*[）)]", "", text)
    return re.sub(r"[\s_\-:：*.#/·]+", "", text)


SYNONYMS = {
    "id": ["id", "客户id", "客户编号", "编号", "customerid", "recordid"],
    "name": [
        "姓名",
        "名称",
        "公司名称",
        "客户名称",
        "企业名称",
        "单位名称",
        "客户名",
        "fullname",
        "customername",
        "companyname",
        "name",
    ],
    "phone": ["手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "mobile", "tel", "telephone"],
    "email": ["邮箱", "电子邮箱", "邮件", "电子邮件", "email", "e-mail", "mail", "emailaddress"],
    "city": ["城市", "所在城市", "所在地", "city"],
    "alias": ["别名", "简称", "英文名", "英文名称", "alias"],
    "job_title": ["职位", "职务", "岗位", "title", "jobtitle", "position"],
    "industry": ["行业", "所属行业", "industry"],
    "website": ["网站", "官网", "网址", "主页", "url", "homepage", "website"],
    "tax_id": ["税号", "统一社会信用代码", "信用代码", "纳税人识别号", "taxid", "vat"],
    "gender": ["性别", "sex", "gender"],
    "birthday": ["生日", "出生日期", "dateofbirth", "dob", "birthday"],
    "id_number": [
        "身份证",
        "身份证号",
        "身份证号码",
        "居民身份证号",
        "居民身份证号码",
        "证件号",
        "证件号码",
        "idnumber",
        "idcard",
        "idcardnumber",
        "idno",
        "nationalid",
    ],
    "notes": ["备注", "说明", "notes", "note", "remark", "remarks", "comment"],
    "source": ["来源", "客户来源", "线索来源", "leadsource", "source"],
    "lifecycle_stage": ["阶段", "客户阶段", "生命周期", "stage"],
    "customer_type": ["客户类型", "customertype"],
    "kind": ["类别", "客户类别", "kind"],
    "account": ["所属客户", "所属公司", "所属单位", "account", "accountname"],
    "owner": ["负责人", "销售", "业务员", "所有人", "归属人", "owner", "salesrep"],
    "tags": ["标签", "tags", "tag"],
    "contact_person": [
        "联系人",
        "联系人姓名",
        "联系人名称",
        "对接人",
        "contactperson",
        "contactname",
        "contact",
    ],
    "external_id": [
        "外部编号",
        "外部id",
        "原系统编号",
        "原系统id",
        "原编号",
        "旧系统编号",
        "externalid",
        "legacyid",
        "sourceid",
    ],
    "source_created_on": [
        "创建时间",
        "创建日期",
        "录入时间",
        "录入日期",
        "建档日期",
        "建档时间",
        "原创建时间",
        "createdat",
        "createddate",
        "createdon",
        "datecreated",
        "createtime",
    ],
    "address": [
        "地址",
        "详细地址",
        "联系地址",
        "通讯地址",
        "公司地址",
        "办公地址",
        "家庭地址",
        "住址",
        "address",
        "streetaddress",
        "street",
    ],
    "postcode": ["邮编", "邮政编码", "邮码", "postcode", "postalcode", "zip", "zipcode"],
    "extra_phone": [
        "其他电话",
        "备用电话",
        "座机",
        "固话",
        "办公电话",
        "otherphone",
        "workphone",
        "landline",
        "phone2",
    ],
    "extra_email": ["其他邮箱", "备用邮箱", "otheremail", "email2"],
    "wechat": ["微信", "微信号", "wechat", "wechatid", "weixin"],
    "consent.email": ["邮件同意", "邮件营销同意", "emailoptin", "emailconsent"],
    "consent.sms": ["短信同意", "短信营销同意", "smsoptin", "smsconsent"],
    "consent.phone": ["电话同意", "电话营销同意", "phoneconsent"],
    "consent.wechat": ["微信同意", "微信营销同意", "wechatconsent"],
    "consent.post": ["信函同意", "邮寄同意", "postconsent"],
    "consent.fax": ["传真同意", "faxconsent"],
}
# names that mean the customer's own name in a list of companies, but its account in a list of people
AMBIGUOUS_COMPANY = ["公司", "单位", "企业", "company", "organisation", "organization"]
# columns an error report adds: never imported
IGNORED = ["行号", "错误", "原因", "row", "errors", "error", "reason"]


def _choice_fields() -> dict[str, list[tuple[str, object]]]:
    fields = {"kind": list(Kind.choices)}
    for name in PROFILE_FIELDS:
        field = Customer._meta.get_field(name)
        if field.choices:
            fields[name] = list(field.choices)
    return fields


EXTRA_CHOICES = {
    "kind": {
        "organization": ["organisation", "company", "公司", "组织", "机构", "企业", "单位", "org"],
        "person": ["individual", "contact", "个人", "联系人", "自然人", "人"],
    },
    "gender": {"male": ["m", "男性", "先生"], "female": ["f", "女性", "女士"]},
    "preferred_language": {"zh-hans": ["中文", "chinese", "zh", "zh-cn"], "en": ["英文", "英语", "en"]},
}
YES = {"1", "true", "yes", "y", "on", "是", "同意", "已同意", "允许", "granted", "opt-in", "optin", "✓", "√"}
NO = {
    "0",
    "false",
    "no",
    "n",
    "off",
    "否",
    "不同意",
    "拒绝",
    "退订",
    "已撤回",
    "withdrawn",
    "opt-out",
    "optout",
}


class Coercer:
    """Text → value for every target, with choice labels in every interface language. One per job run."""

    def __init__(self) -> None:
        self.choices: dict[str, dict[str, str]] = {}
        for name, options in _choice_fields().items():
            table: dict[str, str] = {}
            for code, label in options:
                table[_norm(code)] = code
                for lang, _name in settings.LANGUAGES:
                    with translation.override(lang):
                        table.setdefault(_norm(str(label)), code)
            for code, words in EXTRA_CHOICES.get(name, {}).items():
                for word in words:
                    table.setdefault(_norm(word), code)
            self.choices[name] = table

    def choice(self, name: str, raw: str) -> str:
        code = self.choices[name].get(_norm(raw))
        if code is None:
            field = Customer._meta.get_field(name)
            labels = ", ".join(str(label) for _code, label in field.choices)
            raise ValidationError(
                _("“%(value)s” is not a valid %(field)s: use one of %(choices)s.")
                % {"value": raw, "field": field.verbose_name, "choices": labels}
            )
        return code

    @staticmethod
    def date(raw: str, order: str = "") -> dt.date:
        """A date in a common Chinese or Western form (normalize.parse_date); `order` reads 03/04/2023."""
        return normalize.parse_date(reader.cell_text(raw), order)[0]

    @staticmethod
    def website(raw: str) -> str:
        text = raw.strip()
        if text and not re.match(r"^[a-z][a-z0-9+.-]*://", text, flags=re.IGNORECASE):
            text = "https://" + text
        return text

    @staticmethod
    def consent(raw: str) -> str:
        text = raw.strip().lower()
        if text in YES:
            return ConsentStatus.GRANTED
        if text in NO:
            return ConsentStatus.WITHDRAWN
        raise ValidationError(
            _("“%(value)s” is not a consent answer: use yes/no (是/否, 同意/退订).") % {"value": raw}
        )

    @staticmethod
    def record_id(raw: str) -> int:
        text = raw.strip().lstrip("#")
        if text.endswith(".0"):
            text = text[:-2]
        if not text.isdigit() or int(text) > MAX_ID:
            raise ValidationError(_("“%(value)s” is not a customer id (a whole number).") % {"value": raw})
        return int(text)

    @staticmethod
    def custom(definition, raw: str, order: str = ""):
        if definition.field_type == "choice":
            for option in definition.choices:
                if _norm(option) == _norm(raw):
                    return option
        if definition.field_type == "date" and not isinstance(raw, dt.date):
            raw = normalize.parse_date(raw, order)[0]
        return customfields.clean_value(definition, raw)

    @staticmethod
    def split(raw: str) -> list[str]:
        return [part for part in SPLIT.split(raw.strip()) if part]


def targets_for(user) -> list[Target]:
    """The targets `user` may import into, in display order."""
    access = Access.of(user)
    blocked = access.hidden_fields(Customer) | access.readonly_fields(Customer)
    result: list[Target] = [Target("id", _("Customer id (to match)"), None)]

    def add(key: str, label, field: str | None) -> None:
        if field is None or field not in blocked:
            result.append(Target(key, str(label), field))

    for name in ["name", "kind", *PROFILE_FIELDS[1:]]:
        add(name, capfirst(Customer._meta.get_field(name).verbose_name), name)
    # the clear number is validated, then only its keyed hash and masked form are kept (identity.py); the
    # target follows the field grant on the masked form, like the person form's input
    add("id_number", _("Resident ID number"), "id_number_masked")
    add("account", _("Account (name or id)"), "account")
    if access.can(Action.TRANSFER, Customer):
        add("owner", _("Owner (user name)"), "owner")
    add("tags", _("Tags"), "tags")
    add("address", _("Address"), None)
    add("postcode", _("Postcode (with the address)"), None)
    add("extra_phone", _("Other phone"), "phone")
    add("extra_email", _("Other email"), "email")
    add("wechat", _("WeChat id"), None)
    for code, label in Channel.choices:
        add(f"consent.{code}", _("Consent: %(channel)s") % {"channel": label}, None)
    if "custom" not in blocked:
        for definition in customfields.definitions(Customer):
            add(f"custom.{definition.key}", definition.label, "custom")
    return result


def _synonym_table(targets: list[Target]) -> dict[str, str]:
    table: dict[str, str] = {}
    allowed = {t.key for t in targets}
    for key, words in SYNONYMS.items():
        if key in allowed:
            for word in words:
                table.setdefault(_norm(word), key)
    for target in targets:
        names = [target.key, target.label]
        if target.field and target.key == target.field:
            field = Customer._meta.get_field(target.field)
            for lang, _name in settings.LANGUAGES:
                with translation.override(lang):
                    names.append(str(field.verbose_name))  # the column labels of Kehu's exports
        if target.key.startswith("consent."):
            code = target.key.split(".", 1)[1]
            label = dict(Channel.choices)[code]
            for lang, _name in settings.LANGUAGES:
                with translation.override(lang):
                    names += [f"{label}同意", f"同意{label}", f"{label} consent", f"consent {label}"]
            names += [f"consent {code}", f"{code} consent", f"{code} opt-in"]
        for name in names:
            table.setdefault(_norm(str(name)), target.key)
    return table


def suggest(headers: list[str], targets: list[Target]) -> list[str]:
    """One target key (or '' = ignore) per column, from the header names in English or Chinese."""
    table = _synonym_table(targets)
    allowed = {t.key for t in targets}
    ignored = {_norm(w) for w in IGNORED}
    result = [""] * len(headers)
    used: set[str] = set()
    ambiguous = []
    for index, header in enumerate(headers):
        key = _norm(header)
        if not key or key in ignored:
            continue
        if key in (_norm(w) for w in AMBIGUOUS_COMPANY):
            ambiguous.append(index)
            continue
        target = table.get(key)
        if target is None:
            continue
        if target in used and target not in MULTI:
            # a second "phone" column is another phone; other repeated columns are left to the user
            target = {"phone": "extra_phone", "email": "extra_email"}.get(target, "")
            if target not in allowed:
                target = ""
        if target:
            result[index] = target
            used.add(target)
    for index in ambiguous:
        for target in ("name", "account"):
            if target in allowed and target not in used:
                result[index] = target
                used.add(target)
                break
    return result


def validate(mapping: list[str], headers: list[str], targets: list[Target], options: dict) -> list[str]:
    """Problems of a mapping (empty when it can run), each a sentence for the user."""
    problems = []
    by_key = {t.key: t for t in targets}
    if len(mapping) != len(headers):
        return [
            _("The mapping must name a target (or nothing) for each of the %(n)d columns.")
            % {"n": len(headers)}
        ]
    columns: dict[str, list[str]] = {}
    for index, key in enumerate(mapping):
        if not key:
            continue
        if key not in by_key:
            problems.append(
                _("Column %(column)s cannot be imported into “%(target)s”: you may not write that field.")
                % {"column": column_name(headers, index), "target": key}
            )
            continue
        columns.setdefault(key, []).append(column_name(headers, index))
    for key, names in columns.items():
        if len(names) > 1 and key not in MULTI:
            problems.append(
                _("Columns %(columns)s are all mapped to “%(target)s”; map only one of them.")
                % {"columns": ", ".join(names), "target": by_key[key].label}
            )
    if not columns:
        problems.append(_("Map at least one column."))
    mode = options.get("mode")
    match_on = options.get("match_on")
    if mode in ("create", "upsert") and "name" not in columns:
        problems.append(_("Map a column to the name: new customers need one."))
    if mode in ("create", "upsert"):
        for definition in customfields.definitions(Customer):
            if definition.required and f"custom.{definition.key}" not in columns:
                problems.append(
                    _("Map a column to the required custom field “%(field)s”: new customers need it.")
                    % {"field": definition.label}
                )
    if mode in ("upsert", "update"):
        needed = {"id": ["id"], "phone": ["phone"], "email": ["email"], "phone_email": ["phone", "email"]}
        if not any(k in columns for k in needed.get(match_on, [])):
            problems.append(
                _("To find the customers to update, map a column to %(what)s.")
                % {
                    "what": " / ".join(
                        str(by_key[k].label) for k in needed.get(match_on, ["id"]) if k in by_key
                    )
                }
            )
    return problems


def column_name(headers: list[str], index: int) -> str:
    header = headers[index] if index < len(headers) else ""
    letter = reader.column_letter(index)
    return f"{letter} “{header}”" if header else letter


# ----------------------------------------------------------------------------------------- value mapping
#: words other systems use for Kehu's choices (a value-mapping suggestion, never applied without the user)
VALUE_SYNONYMS = {
    "source": {
        "web": [
            "官网",
            "网站",
            "官方网站",
            "网页",
            "网络",
            "在线咨询",
            "网站咨询",
            "online",
            "internet",
            "官网注册",
        ],
        "campaign": [
            "百度推广",
            "搜索推广",
            "竞价",
            "sem",
            "广告",
            "推广",
            "市场活动",
            "活动",
            "电子邮件营销",
            "短信营销",
        ],
        "call": ["电话营销", "电话", "电销", "来电", "去电", "外呼", "cold call", "telemarketing", "呼入"],
        "referral": ["转介绍", "介绍", "推荐", "老客户介绍", "客户介绍", "朋友介绍", "口碑"],
        "trade_show": ["展会", "展览", "会展", "博览会", "exhibition", "fair", "expo"],
        "walk_in": ["上门", "到店", "自然到访", "门店", "来访", "visit"],
        "partner": ["合作伙伴", "渠道", "代理商", "经销商", "channel", "reseller", "dealer", "agent"],
        "social": [
            "微信",
            "抖音",
            "微博",
            "小红书",
            "公众号",
            "社交媒体",
            "wechat",
            "weibo",
            "douyin",
            "linkedin",
        ],
        "other": ["其他", "其它", "未知", "unknown", "misc"],
    },
}
#: what a file value is mapped to: a Kehu choice code (or a custom field's option), or nothing
LEAVE_EMPTY = ""
#: (administrators, custom choice fields) add the file value as a new option of the field
CREATE_CHOICE = "+"
SIMILARITY = 72


@dataclass(frozen=True)
class ValueSuggestion:
    value: str
    count: int
    suggested: str  # a choice code; '' = none found
    how: str  # exact | similar | '' (none)


def choice_options(key: str, definitions: dict | None = None) -> list[tuple[str, str]] | None:
    """(code, label) of a choice target — a Customer choice field or a custom choice field — or None."""
    if key.startswith("custom."):
        definitions = (
            definitions if definitions is not None else {d.key: d for d in customfields.definitions(Customer)}
        )
        definition = definitions.get(key[7:])
        if definition is None or definition.field_type != "choice":
            return None
        return [(option, option) for option in definition.choices]
    fields = _choice_fields()
    if key not in fields:
        return None
    return [(code, str(label)) for code, label in fields[key]]


class ValueSuggester:
    """Suggests a Kehu choice for each value a file has: exact (code, label in any language, known words),
    a synonym other systems use (官网 → Website), else the most similar label, code or synonym (rapidfuzz)."""

    def __init__(self, coercer: Coercer | None = None) -> None:
        self.coercer = coercer or Coercer()

    def _words(self, key: str, options: list[tuple[str, str]]) -> dict[str, str]:
        words: dict[str, str] = {}
        for code, label in options:
            words.setdefault(_norm(code), code)
            words.setdefault(_norm(label), code)
        if not key.startswith("custom."):
            for norm, code in self.coercer.choices.get(key, {}).items():
                words.setdefault(norm, code)
        for code, synonyms in VALUE_SYNONYMS.get(key, {}).items():
            for word in synonyms:
                words.setdefault(_norm(word), code)
        return {w: c for w, c in words.items() if w}

    def suggest(self, key: str, value: str, options: list[tuple[str, str]]) -> tuple[str, str]:
        from rapidfuzz import fuzz, process

        norm = _norm(value)
        codes = {code for code, _label in options}
        if not key.startswith("custom.") and norm in self.coercer.choices.get(key, {}):
            return self.coercer.choices[key][norm], "exact"
        for code, label in options:
            if norm in (_norm(code), _norm(label)):
                return code, "exact"
        words = self._words(key, options)
        if norm in words and words[norm] in codes:
            return words[norm], "similar"
        found = process.extractOne(norm, list(words), scorer=fuzz.WRatio, score_cutoff=SIMILARITY)
        if found and words[found[0]] in codes:
            return words[found[0]], "similar"
        return "", ""

    def column(self, key: str, distinct: list, options: list[tuple[str, str]]) -> list[ValueSuggestion]:
        return [
            ValueSuggestion(value, count, *self.suggest(key, value, options)) for value, count in distinct
        ]


def value_columns(
    job, targets: list[Target]
) -> list[tuple[int, Target, list[tuple[str, str]], list[ValueSuggestion]]]:
    """The mapped choice columns of a job with their distinct values and a suggestion for each; the user's
    value map (job.options['value_maps'][target]) is applied by the caller."""
    by_key = {t.key: t for t in targets}
    definitions = {d.key: d for d in customfields.definitions(Customer)}
    suggester = ValueSuggester()
    distinct = job.distinct_values or []
    result = []
    for index, key in enumerate(job.mapping):
        if not key or key not in by_key:
            continue
        options = choice_options(key, definitions)
        if options is None or index >= len(distinct):
            continue
        result.append((index, by_key[key], options, suggester.column(key, distinct[index], options)))
    return result


def needs_values(job, targets: list[Target]) -> bool:
    """Whether a choice column has a value that is not exactly a Kehu choice and that the user's value map
    does not settle: the value-mapping step is then shown before the preview."""
    maps = (job.options or {}).get("value_maps") or {}
    for _index, target, _options, suggestions in value_columns(job, targets):
        chosen = maps.get(target.key) or {}
        if any(s.how != "exact" and s.value not in chosen for s in suggestions):
            return True
    return False


def clean_value_maps(
    value_maps, targets: list[Target], *, may_create: bool
) -> tuple[dict, dict[str, list[str]]]:
    """The value maps as saved ({target: {file value: code, '' or '+'}}) and, per custom choice field, the new
    options to create; ValidationError for an unknown target or choice, or '+' without the right."""
    if not isinstance(value_maps, dict):
        raise ValidationError(_("The value mapping must map each target to {file value: choice}."))
    allowed = {t.key for t in targets}
    definitions = {d.key: d for d in customfields.definitions(Customer)}
    cleaned: dict[str, dict[str, str]] = {}
    created: dict[str, list[str]] = {}
    problems = []
    for key, values in value_maps.items():
        options = choice_options(key, definitions) if key in allowed else None
        if options is None or not isinstance(values, dict):
            problems.append(_("“%(target)s” is not a choice you may import into.") % {"target": key})
            continue
        codes = {code for code, _label in options}
        for value, code in values.items():
            value, code = str(value), str(code or "")
            if code == CREATE_CHOICE:
                if not key.startswith("custom."):
                    problems.append(
                        _("New choices can be created only for custom choice fields, not for “%(target)s”.")
                        % {"target": key}
                    )
                    continue
                if not may_create:
                    problems.append(
                        _("Only an administrator can create a new choice (“%(value)s”).") % {"value": value}
                    )
                    continue
                text = normalize.clean_text(value)
                if not text or len(text) > 100:
                    problems.append(
                        _("“%(value)s” cannot be a choice (1 to 100 characters).") % {"value": value}
                    )
                    continue
                if text not in codes:
                    created.setdefault(key[7:], []).append(text)
                code = text
            elif code and code not in codes:
                problems.append(
                    _("“%(code)s” is not a choice of “%(target)s” (for the value “%(value)s”).")
                    % {"code": code, "target": key, "value": value}
                )
                continue
            cleaned.setdefault(key, {})[value] = code
    if problems:
        raise ValidationError(problems)
    return cleaned, created
