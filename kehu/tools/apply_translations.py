"""Apply TSVs of translations to the zh_Hans catalogue (used when adding strings and after merges).

A line is `msgid<TAB>translation`, or `msgctxt<TAB>msgid<TAB>translation` for an entry with a context
(pgettext); a two-column line never touches an entry that has a context. A tab or a line break inside a string is
written `\\t` / `\\n`.
"""

import sys
from pathlib import Path

import polib

from kehu.tools.i18n import po_path


def main(paths: list[str]) -> int:
    table: dict[tuple[str | None, str], str] = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            # a tab or a line break inside a string is written `\t` / `\n` (one entry per line)
            parts = [p.replace("\\n", "\n").replace("\\t", "\t") for p in line.split("\t")]
            if len(parts) == 2:
                table[(None, parts[0])] = parts[1]
            elif len(parts) == 3:
                table[(parts[0], parts[1])] = parts[2]
    po = polib.pofile(str(po_path("zh_Hans")))
    po.metadata["Language"] = "zh_Hans"
    po.metadata["Plural-Forms"] = "nplurals=1; plural=0;"
    done = 0
    for entry in po:
        key = (entry.msgctxt or None, entry.msgid)
        if key in table:
            if entry.msgid_plural:
                entry.msgstr_plural = {0: table[key]}
            else:
                entry.msgstr = table[key]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            entry.previous_msgid = entry.previous_msgid_plural = entry.previous_msgctxt = None
            done += 1
    po.save()
    print(f"applied {done} translations")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
