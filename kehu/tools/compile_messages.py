"""Compile the .po catalogues to .mo with polib, so that no GNU gettext install is needed to run Kehu."""

from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def main() -> int:
    count = 0
    for po_path in LOCALE.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        count += 1
    if count:
        print(f"compiled {count} message catalogue(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
