"""Rebuild breached-passwords.txt.gz (docs/security.md, kehu/security/data/README.md).

    python -m kehu.security.data.build_breached /path/to/Chinese-common-password-list-top-100000.txt

Inputs: Django's bundled list (django/contrib/auth/common-passwords.txt.gz: 20,000 common passwords, lowercased,
created by Royce Williams, gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce) and the 100,000 most frequent passwords of the NetEase 2015 breach (Kyi Wong,
github.com/NihaoKangkang/Chinese-Common-Password-List, MIT licence; md5 dc0773deaf1a2e019945b91748c3b874).
Output: one lowercased password per line, sorted, gzip; entries shorter than MIN_KEPT are left out of the
Chinese list (the length rule refuses them already).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import django

HERE = Path(__file__).resolve().parent
OUT = HERE / "breached-passwords.txt.gz"
MIN_KEPT = 8


def main(chinese_list: str) -> None:
    django_list = Path(django.__file__).parent / "contrib" / "auth" / "common-passwords.txt.gz"
    with gzip.open(django_list, "rt", encoding="utf-8") as f:
        words = {line.strip().lower() for line in f if line.strip()}
    base = len(words)
    with open(chinese_list, encoding="utf-8", errors="replace") as f:
        words |= {w for w in (line.strip().lower() for line in f) if len(w) >= MIN_KEPT}
    with gzip.GzipFile(OUT, "wb", mtime=0) as out:  # mtime 0: the same inputs give the same bytes
        out.write(("\n".join(sorted(words)) + "\n").encode())
    print(f"{OUT.name}: {len(words)} passwords ({base} from Django's list)")


if __name__ == "__main__":
    main(sys.argv[1])
