"""The zh-Hans and en catalogues are complete: every string in the code and templates is translated."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "kehu" / "locale"


@pytest.mark.parametrize("lang", ["zh_Hans", "en"])
def test_committed_catalogue_has_no_untranslated_or_fuzzy_entries(lang):
    po = polib.pofile(str(LOCALE / lang / "LC_MESSAGES" / "django.po"))
    assert len(po) > 100
    bad = [e.msgid for e in po if not e.obsolete and ("fuzzy" in e.flags or not e.translated())]
    assert bad == []


def test_placeholders_survive_translation():
    po = polib.pofile(str(LOCALE / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    import re

    pattern = re.compile(r"%\(\w+\)[sd]|%[sd]")
    for e in po:
        if e.obsolete:
            continue
        translated = e.msgstr_plural[0] if e.msgid_plural else e.msgstr
        assert sorted(set(pattern.findall(e.msgid))) == sorted(set(pattern.findall(translated))), e.msgid


def test_every_string_in_the_source_is_in_the_catalogues(tmp_path):
    """Re-extract the strings into a copy of the catalogues and check nothing new is untranslated.
    Needs GNU gettext (xgettext); CI installs it, a developer machine without it skips."""
    if shutil.which("xgettext") is None:
        if os.environ.get("CI"):
            pytest.fail("xgettext is missing on CI: .ci/run must install gettext")
        pytest.skip("GNU gettext is not installed (apt-get install gettext)")
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE, copy, ignore=shutil.ignore_patterns("*.mo"))
    env = {**os.environ, "KEHU_LOCALE_DIR": str(copy)}
    subprocess.run(
        [sys.executable, "-m", "kehu.tools.i18n", "extract"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, "-m", "kehu.tools.i18n", "missing"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, "untranslated strings:\n" + result.stdout[-3000:]
