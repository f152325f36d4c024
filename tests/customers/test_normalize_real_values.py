"""Property tests of the normalisers real exports need: phones with extensions and dates in Chinese and Western
forms (normalize.split_phone, normalize.parse_date), and resident ID numbers (identity.clean_id_number)."""

from __future__ import annotations

import datetime as dt

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kehu.customers import normalize

# landlines of a few Chinese area codes (8-digit local numbers) and mobiles
AREA = st.sampled_from(["010", "021", "0512", "0755", "020"])
LOCAL = st.integers(min_value=2000_0000, max_value=8999_9999).map(str)
EXTENSION = st.integers(min_value=1, max_value=99999).map(str)


def _valid(area: str, local: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse("+86" + area[1:] + local))


SEPARATOR = st.sampled_from(["转", "分机", " ext. ", " ext ", " x", "x", " EXT.", "#", " 转 ", "-转"])


@settings(max_examples=150, deadline=None)
@given(area=AREA, local=LOCAL, extension=EXTENSION, separator=SEPARATOR, dash=st.sampled_from(["-", " ", ""]))
def test_an_extension_is_kept_whatever_its_separator(area, local, extension, separator, dash):
    assume(_valid(area, local))  # the property is about real numbers (e.g. Beijing's 8000 xxxx are not)
    number, found = normalize.split_phone(f"{area}{dash}{local}{separator}{extension}")
    assert number == "+86" + area[1:] + local
    assert found == extension
    # the number without the extension is the same number: search and matching see it
    assert normalize.normalize_phone(f"{area}{dash}{local}{separator}{extension}") == number
    assert normalize.split_phone(f"{area}-{local}") == (number, "")


@settings(max_examples=100, deadline=None)
@given(area=AREA, local=LOCAL, extension=EXTENSION)
def test_a_formatted_phone_with_extension_reads_back_as_itself(area, local, extension):
    assume(_valid(area, local))
    number, found = normalize.split_phone(f"{area}-{local}转{extension}")
    shown = normalize.format_phone(number, found)
    assert extension in shown
    assert normalize.split_phone(shown) == (number, extension)


@pytest.mark.parametrize(
    ("text", "number", "extension"),
    [
        ("0512-87800562转775", "+8651287800562", "775"),
        ("010-12345678分机123", "+861012345678", "123"),
        ("010-12345678 ext. 123", "+861012345678", "123"),
        ("+1 650 253 0000 x123", "+16502530000", "123"),
        ("138 1234 5678", "+8613812345678", ""),
    ],
)
def test_the_extensions_of_real_exports(text, number, extension):
    assert normalize.split_phone(text) == (number, extension)


def test_a_bad_phone_still_quotes_the_value():
    for bad in ("abc", "010-12345678 转", "12"):
        with pytest.raises(ValidationError, match=f"“{bad}”"):
            normalize.split_phone(bad)


DAYS = st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2099, 12, 31))
TIMES = st.sampled_from(["", " 10:30", " 08:05:09", "T23:59:59", " 3:00 PM", " 下午3:00", " 10:30:00+08:00"])


@settings(max_examples=200, deadline=None)
@given(day=DAYS, time=TIMES)
def test_the_year_first_forms_read_back_as_the_date(day, time):
    y, m, d = day.year, day.month, day.day
    forms = {
        f"{y}-{m:02d}-{d:02d}": "ymd",
        f"{y}/{m}/{d}": "ymd_slash",
        f"{y}.{m}.{d}": "ymd_dot",
        f"{y}年{m}月{d}日": "ymd_cn",
        f"{y}{m:02d}{d:02d}": "compact",
    }
    for text, code in forms.items():
        assert normalize.parse_date(text + time) == (day, code), text + time


@settings(max_examples=200, deadline=None)
@given(day=DAYS)
def test_day_month_forms_follow_the_order_and_ask_when_the_value_does_not_settle_it(day):
    text = f"{day.day:02d}/{day.month:02d}/{day.year}"
    assert normalize.parse_date(text, "dmy") == (day, "dmy")
    swapped = f"{day.month:02d}/{day.day:02d}/{day.year}"
    assert normalize.parse_date(swapped, "mdy") == (day, "mdy")
    if day.day <= 12 and day.day != day.month:
        with pytest.raises(normalize.AmbiguousDate, match=text):
            normalize.parse_date(text)
        assert normalize.date_order_of(text) == "ask"
    else:
        assert normalize.parse_date(text)[0] == day  # 25/04/2023 settles itself; 04/04 reads the same


@settings(max_examples=100, deadline=None)
@given(day=st.dates(min_value=dt.date(1927, 5, 19), max_value=dt.date(2173, 10, 13)))
def test_excel_serial_numbers(day):
    serial = (day - dt.date(1899, 12, 30)).days
    assert normalize.parse_date(str(serial)) == (day, "excel")
    assert normalize.parse_date(f"{serial}.5")[0] == day  # a serial with a time of day


@given(text=st.text(max_size=20))
@settings(max_examples=300, deadline=None)
def test_anything_else_is_a_date_or_a_message_quoting_it(text):
    try:
        value, code = normalize.parse_date(text)
    except ValidationError as exc:
        assert normalize.clean_text(text) in exc.messages[0]
    else:
        assert isinstance(value, dt.date) and code in normalize.DATE_FORMATS


def test_the_forms_of_the_issue():
    assert normalize.parse_date("2023/5/1")[0] == dt.date(2023, 5, 1)
    assert normalize.parse_date("2023年5月1日")[0] == dt.date(2023, 5, 1)
    assert normalize.parse_date("2023.5.1")[0] == dt.date(2023, 5, 1)
    assert normalize.parse_date("20230501")[0] == dt.date(2023, 5, 1)
    assert normalize.parse_date("19560409")[0] == dt.date(1956, 4, 9)
    assert normalize.parse_date("2023/5/1 14:30:00")[0] == dt.date(2023, 5, 1)
    assert (
        normalize.parse_date("1 May 2023")[0] == normalize.parse_date("May 1, 2023")[0] == dt.date(2023, 5, 1)
    )
    with pytest.raises(ValidationError, match="“2023-02-30” is not a date"):
        normalize.parse_date("2023-02-30")


# ------------------------------------------------------------------------------------------ ID numbers
REGION = st.sampled_from(["110101", "310104", "330106", "440305", "510107", "650102"])
BORN = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31))
SEQUENCE = st.integers(min_value=0, max_value=999)


def _number(region: str, born: dt.date, seq: int) -> str:
    from kehu.customers import identity

    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + identity.check_digit(first17)


@settings(max_examples=200, deadline=None)
@given(region=REGION, born=BORN, seq=SEQUENCE, spaced=st.booleans(), lower=st.booleans())
def test_a_valid_id_number_is_accepted_in_any_spelling_and_keeps_its_date(region, born, seq, spaced, lower):
    from kehu.customers import identity

    number = _number(region, born, seq)
    typed = f"{number[:6]} {number[6:14]} {number[14:]}" if spaced else number
    typed = typed.lower() if lower else typed
    assert identity.clean_id_number(typed) == number
    assert identity.birth_date(number) == born
    assert identity.mask(number) == number[:4] + "*" * 10 + number[-4:]


@settings(max_examples=200, deadline=None)
@given(region=REGION, born=BORN, seq=SEQUENCE, position=st.integers(0, 16), delta=st.integers(1, 9))
def test_one_changed_digit_is_caught_by_the_check_digit_or_the_date(region, born, seq, position, delta):
    from kehu.customers import identity

    number = _number(region, born, seq)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    # ISO 7064 MOD 11-2 detects every single-digit error
    with pytest.raises(ValidationError):
        identity.clean_id_number(changed)
