"""Normalisation of what people type: full-/half-width characters, whitespace, phones, emails, and the keys
used by search and duplicate detection (simplified Chinese, pinyin, initials, company core names).

Pure functions, no database: they run on every write path (forms, API, imports) and in bulk in the
duplicate scan.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

DEFAULT_REGION = "CN"
_WS = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)

COMPANY_SUFFIXES = [
    # longest first: removed repeatedly from the end
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "集团股份有限公司",
    "有限公司",
    "分公司",
    "公司",
    "集团",
    "企业",
    "工作室",
    "商行",
    "门市部",
    "经营部",
    "co., ltd.",
    "co.,ltd.",
    "co. ltd.",
    "co ltd",
    "company limited",
    "corporation",
    "incorporated",
    "limited",
    "company",
    "corp.",
    "corp",
    "inc.",
    "inc",
    "ltd.",
    "ltd",
    "llc",
    "gmbh",
    "plc",
    "s.a.",
    "ag",
    "co.",
    "co",
    "pte",
    "pty",
]
REGION_PREFIXES = [
    "北京",
    "上海",
    "天津",
    "重庆",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "苏州",
    "成都",
    "武汉",
    "西安",
    "香港",
    "澳门",
    "台湾",
    "广东",
    "浙江",
    "江苏",
    "四川",
    "湖北",
    "山东",
    "河南",
    "河北",
    "福建",
    "湖南",
    "安徽",
    "辽宁",
    "陕西",
]
REGION_SET = frozenset(REGION_PREFIXES)


# full-width letters, digits and the symbols used in emails, phones and codes → ASCII; Chinese punctuation
# (，。：（）) is part of proper Chinese text and company names and is kept as typed
_HALF = {
    cp: cp - 0xFEE0
    for cp in range(0xFF01, 0xFF5F)
    if chr(cp - 0xFEE0).isalnum() or chr(cp - 0xFEE0) in "@.-+_#/&'"
}
_HALF[0x3000] = 0x20  # ideographic space


def clean_text(value: str | None) -> str:
    """Full-width letters/digits/code symbols → half-width, control characters removed, trimmed, inner
    whitespace collapsed."""
    if not value:
        return ""
    text = str(value).translate(_HALF)
    if not text.isprintable():  # printable text has no control/format characters: skip the per-character pass
        text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t")
    return _WS.sub(" ", text).strip()


def has_cjk(value: str) -> bool:
    return bool(_CJK.search(value or ""))


@lru_cache(maxsize=50_000)
def simplified(value: str) -> str:
    """Traditional → simplified Chinese (for keys only; the stored name keeps what the user typed)."""
    if not has_cjk(value):
        return value
    import zhconv

    return zhconv.convert(value, "zh-hans")


@lru_cache(maxsize=50_000)
def pinyin_parts(value: str) -> tuple[str, ...]:
    """Pinyin syllables of the CJK characters, other word characters kept as lower-case runs."""
    from pypinyin import Style, lazy_pinyin

    text = simplified(clean_text(value)).lower()
    return tuple(p for p in (s.strip() for s in lazy_pinyin(text, style=Style.NORMAL, errors="default")) if p)


def pinyin_full(value: str) -> str:
    return _NON_WORD.sub("", "".join(pinyin_parts(value)))


def pinyin_initials(value: str) -> str:
    parts = [p for p in pinyin_parts(value) if _NON_WORD.sub("", p)]
    out = []
    for p in parts:
        p = _NON_WORD.sub("", p)
        # non-CJK runs contribute every word's first letter
        out.append(p[0])
    return "".join(out)


def name_key(value: str) -> str:
    """Comparison key of a name: simplified, NFKC, lower-case, without spaces and punctuation."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", simplified(clean_text(value))).lower())


def company_region(value: str) -> str:
    """The region a company name states, in front or in brackets (北京某某科技有限公司, 某某科技（北京）有限公司
    → 北京); empty when it names none. Two companies with the same core in different regions are usually
    different companies."""
    key = simplified(clean_text(value)).lower()
    for inner in re.findall(r"[（(]([^）)]*)[）)]", key):
        inner = inner.strip().removesuffix("市").removesuffix("省")
        if inner in REGION_SET:
            return inner
    for region in REGION_PREFIXES:
        if key.startswith(region):
            return region
    return ""


def company_core(value: str) -> str:
    """A company name without legal-form suffixes and leading region, e.g. 北京某某科技有限公司 → 某某科技."""
    key = simplified(clean_text(value)).lower()
    changed = True
    while changed:
        changed = False
        stripped = key.rstrip(" .,()（）")
        for suffix in COMPANY_SUFFIXES:
            if stripped.endswith(suffix) and len(stripped) > len(suffix):
                key = stripped[: -len(suffix)]
                changed = True
                break
    key = re.sub(r"[（(][^）)]*[）)]", "", key)  # (北京) branch markers
    for region in REGION_PREFIXES:
        if key.startswith(region) and len(key) > len(region) + 1:
            key = key[len(region) :]
            break
    for suffix in ("市", "省"):
        if key.startswith(suffix):
            key = key[1:]
    return _NON_WORD.sub("", key)


#: an extension after the number: 0512-87800562转775, 010-12345678分机123, … ext. 123, … x123, … #123
_EXTENSION = re.compile(
    r"^(?P<number>.*?\d[\s().\-–/]*)\s*(?:ext(?:ension)?\.?|x|转|分机|#)\s*[:.：]?\s*(?P<ext>\d{1,10})\s*$",
    re.IGNORECASE,
)
MAX_EXTENSION = 10


def split_phone(raw: str, region: str = DEFAULT_REGION) -> tuple[str, str]:
    """The E.164 form of a phone number and its extension ('' when none), or ValidationError with a
    specific message quoting the value."""
    text = clean_text(raw)
    if not text:
        return "", ""
    extension = ""
    match = _EXTENSION.match(text)
    main = text
    if match:
        main, extension = match["number"].strip(), match["ext"]
    if not re.fullmatch(r"[+\d\s().\-–/]+", main):
        raise ValidationError(
            _("“%(value)s” is not a phone number: use digits, spaces, + ( ) - and an extension (转 123).")
            % {"value": text}
        )
    try:
        number = phonenumbers.parse(main, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(_("“%(value)s” is not a phone number.") % {"value": text}) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number for its country (check the number of digits).")
            % {"value": text}
        )
    extension = extension or (number.extension or "")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), extension


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of a phone number (without its extension: see split_phone), or ValidationError with a
    specific message."""
    return split_phone(raw, region)[0]


def format_phone(e164: str, extension: str = "") -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code == 86:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    else:
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if extension:
        return _("%(number)s ext. %(extension)s") % {"number": text, "extension": extension}
    return text


def phone_digits(value: str) -> str:
    """Digits only; for searching phones whatever their formatting (+86 138-1234-5678 → 8613812345678)."""
    return re.sub(r"[^0-9]", "", (value or "").translate(_HALF))


def national_digits(e164: str) -> str:
    if not e164:
        return ""
    try:
        return str(phonenumbers.parse(e164, None).national_number)
    except phonenumbers.NumberParseException:
        return phone_digits(e164)


def normalize_email(raw: str) -> str:
    """The stored form of an email address: lower case, the domain in its ASCII (IDNA) form. Messages quote
    the address as typed, never its punycode (display_email shows a stored one)."""
    text = clean_text(raw).replace(" ", "")
    if not text:
        return ""
    typed = text
    if "@" in text:
        local, _sep, domain = text.rpartition("@")
        try:
            domain = domain.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise ValidationError(_("“%(value)s” has an invalid domain.") % {"value": typed}) from None
        text = f"{local}@{domain}"
    try:
        validate_email(text)
    except ValidationError:
        raise ValidationError(_("“%(value)s” is not a valid email address.") % {"value": typed}) from None
    return text.lower()


def display_email(email: str) -> str:
    """A stored email address as people write it: a Chinese domain in Chinese (info@例子.中国), not in its
    punycode (info@xn--fsqu00a.xn--fiqs8s)."""
    local, sep, domain = (email or "").rpartition("@")
    if not sep or "xn--" not in domain:
        return email or ""
    try:
        return f"{local}@{domain.encode('ascii').decode('idna')}"
    except UnicodeError:
        return email


# ------------------------------------------------------------------------------------------------ dates
#: the date forms parse_date recognises; the code is stored per column, the label shown in the preview
DATE_FORMATS = {
    "ymd": "YYYY-MM-DD",
    "ymd_slash": "YYYY/M/D",
    "ymd_dot": "YYYY.M.D",
    "ymd_cn": "YYYY年M月D日",
    "compact": "YYYYMMDD",
    "dmy": "DD/MM/YYYY",
    "mdy": "MM/DD/YYYY",
    "dmy_month": "D Mon YYYY",
    "mdy_month": "Mon D, YYYY",
    "excel": gettext_lazy("Excel serial number"),
}
#: day/month orders a column can be read in
DATE_ORDERS = ("dmy", "mdy")
_TIME = (
    r"(?:(?:\s*T\s*|\s+|(?=上午|下午))(?P<time>(?:上午|下午)?\s*\d{1,2}[:：]\d{1,2}(?:[:：]\d{1,2}(?:\.\d+)?)?"
    r"(?:\s*(?:[ap]\.?m\.?|上午|下午))?(?:\s*(?:z|[+-]\d{2}:?\d{2}))?))?"
)
_YMD = re.compile(
    r"(?P<y>\d{4})\s*(?P<sep>[-/.年])\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*[日号]?" + _TIME,
    re.IGNORECASE,
)
_COMPACT = re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})" + _TIME, re.IGNORECASE)
_AB = re.compile(r"(?P<a>\d{1,2})\s*[-/.]\s*(?P<b>\d{1,2})\s*[-/.]\s*(?P<y>\d{4})" + _TIME, re.IGNORECASE)
_MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_D_MON_Y = re.compile(r"(?P<d>\d{1,2})[\s\-/.]*(?P<mon>[a-z]{3,9})\.?[\s\-/.,]*(?P<y>\d{4})" + _TIME, re.I)
_MON_D_Y = re.compile(
    r"(?P<mon>[a-z]{3,9})\.?\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?\s*,?\s*(?P<y>\d{4})" + _TIME, re.I
)
_SERIAL = re.compile(r"(?P<n>\d{5})(?:\.\d+)?")
_EXCEL_EPOCH = __import__("datetime").date(1899, 12, 30)


class AmbiguousDate(ValidationError):
    """A day/month date whose order the column does not settle (03/04/2023: 3 April or 4 March)."""


def _date(value: str, y: str | int, m: str | int, d: str | int):
    import datetime as dt

    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        raise ValidationError(
            _("“%(value)s” is not a date: there is no such day.") % {"value": value}
        ) from None


def date_order_of(value: str) -> str:
    """For a day/month/year value: 'dmy' or 'mdy' when the value itself settles it, 'ask' when both are
    possible and give different dates, '' when it is not such a value (or both orders read the same)."""
    match = _AB.fullmatch(clean_text(value))
    if not match:
        return ""
    a, b = int(match["a"]), int(match["b"])
    if a > 12 and b <= 12:
        return "dmy"
    if b > 12 and a <= 12:
        return "mdy"
    if a == b or a > 12:
        return ""
    return "ask"


def parse_date(raw: str, order: str = ""):
    """A date typed in a common Chinese or Western form, and the code of that form (DATE_FORMATS):
    2023-05-01, 2023/5/1, 2023.5.1, 2023年5月1日, 20230501, 03/04/2023 (day/month `order` 'dmy' or 'mdy'
    when the value does not settle it), 1 May 2023, May 1, 2023, an Excel serial number (45047), each with
    an optional time. ValidationError (AmbiguousDate for an unsettled day/month) quoting the value."""
    text = clean_text(raw)
    match = _YMD.fullmatch(text)
    if match:
        code = {"-": "ymd", "/": "ymd_slash", ".": "ymd_dot", "年": "ymd_cn"}[match["sep"]]
        return _date(text, match["y"], match["m"], match["d"]), code
    match = _COMPACT.fullmatch(text)
    if match:
        return _date(text, match["y"], match["m"], match["d"]), "compact"
    match = _AB.fullmatch(text)
    if match:
        a, b = int(match["a"]), int(match["b"])
        own = date_order_of(text)
        settled = own if own in DATE_ORDERS else (order or ("" if own == "ask" else "dmy"))
        if not settled:
            raise AmbiguousDate(
                _("“%(value)s” could be %(first)s or %(second)s: choose the day/month order of the column.")
                % {
                    "value": text,
                    "first": _date(text, match["y"], b, a).isoformat(),
                    "second": _date(text, match["y"], a, b).isoformat(),
                }
            )
        day, month = (a, b) if settled == "dmy" else (b, a)
        return _date(text, match["y"], month, day), settled
    for pattern, code in ((_D_MON_Y, "dmy_month"), (_MON_D_Y, "mdy_month")):
        match = pattern.fullmatch(text)
        if match and match["mon"].lower() in _MONTHS:
            return _date(text, match["y"], _MONTHS[match["mon"].lower()], match["d"]), code
    match = _SERIAL.fullmatch(text)
    if match:
        import datetime as dt

        return _EXCEL_EPOCH + dt.timedelta(days=int(match["n"])), "excel"
    raise ValidationError(
        _("“%(value)s” is not a date: use e.g. 2023-05-01, 2023/5/1, 2023年5月1日 or 20230501.")
        % {"value": text}
    )
