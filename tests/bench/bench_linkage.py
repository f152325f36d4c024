"""Record-linkage quality and speed on a generated corpus (never committed): precision, recall and F1 at the
flag threshold per slice, and the scan time of the engine (blocking + comparisons + EM + scoring).

    BENCH_LINKAGE_ENTITIES=20000 .venv/bin/python -m pytest -q -n 0 -s tests/bench/bench_linkage.py

Figures go to docs/benchmarks.md. No database: the engine runs on the rows the scan would read.
"""

from __future__ import annotations

import os
import time

from kehu.customers import linkage, normalize
from tests.bench.corpus import Config, evaluate, generate

ENTITIES = int(os.environ.get("BENCH_LINKAGE_ENTITIES", "20000"))
SLICES = {
    "persons, no phone or email": Config(entities=ENTITIES, seed=3, contacts=False, organisations=0.0),
    "phone or email shared": Config(entities=ENTITIES, seed=4, shared_contact=1.0),
    "mixed (default corruption)": Config(entities=ENTITIES, seed=5),
}


def run(name: str, cfg: Config) -> dict:
    corpus = generate(cfg)
    for row in corpus.rows:  # stored on every write, read from the table by the scan
        row["name_key"] = normalize.name_key(row["name"])
        row["name_pinyin"] = normalize.pinyin_full(row["name"])
    t0 = time.perf_counter()
    rec = linkage.build(corpus.rows)
    t1 = time.perf_counter()
    result = linkage.link(rec)
    t2 = time.perf_counter()
    ids = rec.ids
    found = {
        (min(a, b), max(a, b))
        for a, b in zip(ids[result.left].tolist(), ids[result.right].tolist(), strict=True)
    }
    score = evaluate(found, corpus.truth)
    print(
        f"BENCH linkage [{name}]: {len(corpus.rows):,} records, {len(corpus.truth):,} true pairs, "
        f"{result.candidates:,} candidates; precision {score['precision']:.4f} recall {score['recall']:.4f} "
        f"F1 {score['f1']:.4f} at p ≥ {linkage.THRESHOLD}; features {t1 - t0:.1f}s, link {t2 - t1:.1f}s"
    )
    return score


def test_linkage_quality_and_speed():
    for name, cfg in SLICES.items():
        assert run(name, cfg)["found"] > 0
