"""Process-level tuning of a web worker (called by kehu.wsgi once the application is loaded).

Python's cyclic garbage collector runs a young-generation pass every 700 allocations and, every so often, a
full pass over every object of the process — the ~300,000 objects Django, the URLconf, the templates and the
registry leave behind at start-up. A list page allocates enough to trigger ~115 young and ~10 middle passes
per request (4–6 ms of CPU) and a full pass now and then (the p95's outliers, 60–150 ms under load). Freezing
what start-up left (`gc.freeze`: those objects are never scanned again; they live as long as the worker) and
collecting the young generation every 50,000 allocations keeps the collector off the request path without
turning it off: reference cycles made by requests are still collected. `KEHU_GC_TUNING=0` turns it off.
"""

from __future__ import annotations

import gc
import os

YOUNG_THRESHOLD = 50_000


def tune_gc() -> bool:
    """Freeze the start-up heap and raise the young generation's threshold. Returns whether it was applied."""
    if os.environ.get("KEHU_GC_TUNING", "1") in {"0", "false", "no"}:
        return False
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, max(middle, 20), max(old, 20))
    return True
