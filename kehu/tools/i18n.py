"""Translation catalogue upkeep.

    python -m kehu.tools.i18n extract   # makemessages for zh_Hans and en (needs GNU gettext's xgettext)
    python -m kehu.tools.i18n fill-en   # the English catalogue maps every msgid to itself
    python -m kehu.tools.i18n missing   # list zh_Hans entries without a translation (exit 1 if any)

`make` compiles the catalogues with polib (kehu/tools/compile_messages.py), so running Kehu needs no gettext.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent.parent
LOCALE = Path(os.environ.get("KEHU_LOCALE_DIR", ROOT / "kehu" / "locale"))
LANGS = ("zh_Hans", "en")


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / "django.po"


def extract() -> int:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "kehu.settings.test"}
    cmd = [
        sys.executable,
        str(ROOT / "manage.py"),
        "makemessages",
        "--no-obsolete",
        "--no-location",
        "-i",
        ".venv/*",
        "-i",
        "tests/*",
        "-i",
        "staticfiles/*",
        # makemessages adopts every `locale` directory it walks past; ignoring the package's own makes
        # LOCALE_PATHS (KEHU_LOCALE_DIR) the only target, so a check on a copy never writes the real files
        "-i",
        "kehu/locale",
    ]
    for lang in LANGS:
        cmd += ["-l", lang]
    # run from the project root (no locale/ directory there) so that only LOCALE_PATHS receives the catalogues
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)  # noqa: S603
    return fill_en()


def fill_en() -> int:
    po = polib.pofile(str(po_path("en")))
    for entry in po:
        if entry.msgid_plural:
            entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
        else:
            entry.msgstr = entry.msgid
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    po.save()
    return 0


def untranslated(lang: str = "zh_Hans") -> list[polib.POEntry]:
    po = polib.pofile(str(po_path(lang)))
    result = []
    for entry in po:
        if entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            result.append(entry)
        elif entry.msgid_plural:
            if not all(v.strip() for v in entry.msgstr_plural.values()):
                result.append(entry)
        elif not entry.msgstr.strip():
            result.append(entry)
    return result


def missing() -> int:
    entries = untranslated()
    for e in entries:
        print(repr(e.msgid))
    print(f"{len(entries)} untranslated", file=sys.stderr)
    return 1 if entries else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "missing"
    raise SystemExit({"extract": extract, "fill-en": fill_en, "missing": missing}[command]())
