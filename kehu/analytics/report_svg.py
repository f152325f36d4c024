"""A report's chart as SVG for the PDF export (an11): the same categories and series the page's ECharts chart
draws (reports.js via `views_reports.chart_payload`) — bars (grouped, or stacked for two or three group-bys),
lines or a pie — drawn without a browser, so the PDF shows the chart the report was saved with rather than
bars in HTML. Every number is finite (the result's values already are: `reports._number`); text is escaped.
"""

from __future__ import annotations

import math
from html import escape

from django.utils import translation

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 34, 64
MAX_CATEGORIES = 40
MAX_SERIES = 10
PALETTE = ["#3b6fb6", "#e07b39", "#4f9d69", "#c94f4f", "#8a6bbd", "#8c6d46", "#d670ad", "#7f7f7f", "#b5b83b",
           "#3bb5c4"]  # fmt: skip
FONT = "Noto Sans CJK SC, Noto Sans CJK, WenQuanYi Micro Hei, sans-serif"


def series_of(result: dict) -> tuple[list[str], list[dict]]:
    """(categories, series [{name, data}]) as the page's chart has them (without the drill-down links)."""
    groups = result["groups"]
    if not groups:
        row = result["rows"][0] if result["rows"] else {"values": []}
        return [str(m["label"]) for m in result["measures"]], [
            {"name": result["title"], "data": row["values"]}
        ]
    if len(groups) == 1:
        categories = [str(r["labels"][0]) for r in result["rows"]]
        return categories, [
            {"name": str(m["label"]), "data": [r["values"][j] for r in result["rows"]]}
            for j, m in enumerate(result["measures"])
        ]
    p = result["pivot"]
    return [str(r["label"]) for r in p["rows"]], [
        {"name": str(col["label"]), "data": [cells[c] or 0 for cells in p["cells"]]}
        for c, col in enumerate(p["columns"])
    ]


def _finite(v) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def _nice(span: float) -> float:
    """A round tick step for about five ticks over `span`."""
    if span <= 0:
        return 1.0
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def _fmt(v: float) -> str:
    """An axis or legend number, short: 万 / 亿 in Chinese, k / M / B otherwise."""
    a = abs(v)
    if (translation.get_language() or "").startswith("zh"):
        units = ((1e8, "亿"), (1e4, "万"))
    else:
        units = ((1e9, "B"), (1e6, "M"), (1e4, "k"))
    for size, unit in units:
        if a >= size:
            scaled = v / size if unit != "k" else v / 1e3
            return f"{scaled:.1f}{unit}"
    return f"{v:,.0f}" if a >= 100 or v == int(v) else f"{v:.2f}"


def _text(x, y, s, *, size=9, anchor="middle", rotate=None, fill="#333") -> str:
    transform = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"'
        f' font-family="{FONT}"{transform}>{escape(str(s)[:40])}</text>'
    )


def _legend(series: list[dict]) -> list[str]:
    out, x = [], LEFT
    for i, s in enumerate(series):
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        label = str(s["name"])[:18]
        out.append(_text(x + 14, 17, label, anchor="start"))
        x += 24 + 7 * len(label) + 6 * sum(1 for ch in label if ord(ch) > 0x2E80)
        if x > WIDTH - 80:
            break
    return out


def _pie(categories: list[str], data: list[float]) -> list[str]:
    values = [max(_finite(v), 0.0) for v in data]
    total = sum(values)
    cx, cy, r = WIDTH / 2 - 120, HEIGHT / 2 + 6, HEIGHT / 2 - 30
    out = []
    if total <= 0:
        return [_text(WIDTH / 2, HEIGHT / 2, "—", size=14)]
    angle = -math.pi / 2
    for i, (c, v) in enumerate(zip(categories, values, strict=True)):
        if v <= 0:
            continue
        sweep = 2 * math.pi * v / total
        color = PALETTE[i % len(PALETTE)]
        if sweep >= 2 * math.pi - 1e-9:
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{color}"/>')
        else:
            x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
            x2, y2 = cx + r * math.cos(angle + sweep), cy + r * math.sin(angle + sweep)
            large = 1 if sweep > math.pi else 0
            out.append(
                f'<path d="M{cx:.1f},{cy:.1f} L{x1:.1f},{y1:.1f} A{r:.1f},{r:.1f} 0 {large} 1 {x2:.1f},{y2:.1f} Z"'
                f' fill="{color}" stroke="#fff" stroke-width="1"/>'
            )
        angle += sweep
        row = len([1 for j in range(i) if values[j] > 0])
        if row < 14:
            ly = 30 + 17 * row
            out.append(f'<rect x="{cx + r + 40:.1f}" y="{ly - 9}" width="10" height="10" fill="{color}"/>')
            out.append(_text(cx + r + 56, ly, f"{c} · {_fmt(v)} ({100 * v / total:.1f}%)", anchor="start"))
    return out


def chart_svg(result: dict) -> str:
    """The report's chart as a standalone SVG document (empty string when there is nothing to draw)."""
    categories, series = series_of(result)
    categories = categories[:MAX_CATEGORIES]
    series = [{"name": s["name"], "data": [_finite(v) for v in s["data"][:MAX_CATEGORIES]]} for s in series][
        :MAX_SERIES
    ]
    if not categories or not series:
        return ""
    chart = result.get("chart") or "bar"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">'
    ]
    if chart == "pie":
        parts += _pie(categories, series[0]["data"])
        return "".join([*parts, "</svg>"])
    stacked = chart == "bar" and len(result["groups"]) >= 2
    n = len(categories)
    if stacked:
        tops = [sum(max(s["data"][i], 0) for s in series) for i in range(n)]
        bottoms = [sum(min(s["data"][i], 0) for s in series) for i in range(n)]
    else:
        tops = [max(s["data"][i] for s in series) for i in range(n)]
        bottoms = [min(s["data"][i] for s in series) for i in range(n)]
    high, low = max([0.0, *tops]), min([0.0, *bottoms])
    step = _nice(high - low)
    high = step * math.ceil(high / step) if high > 0 else 0.0
    low = step * math.floor(low / step) if low < 0 else 0.0
    if high == low:
        high = low + step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y_of(v: float) -> float:
        return TOP + plot_h * (high - v) / (high - low)

    tick = low
    while tick <= high + step / 2:
        y = y_of(tick)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#ddd" stroke-width="0.6"/>'
        )
        parts.append(_text(LEFT - 6, y + 3, _fmt(tick), anchor="end", size=8))
        tick += step
    zero = y_of(0.0)
    parts.append(
        f'<line x1="{LEFT}" y1="{zero:.1f}" x2="{WIDTH - RIGHT}" y2="{zero:.1f}" stroke="#888" stroke-width="0.8"/>'
    )
    band = plot_w / n
    rotate = -30 if n > 8 else None
    for i, c in enumerate(categories):
        x = LEFT + band * (i + 0.5)
        parts.append(
            _text(x, HEIGHT - BOTTOM + 14, c, size=8, anchor="end" if rotate else "middle", rotate=rotate)
        )
    if chart == "line":
        for k, s in enumerate(series):
            points = " ".join(f"{LEFT + band * (i + 0.5):.1f},{y_of(v):.1f}" for i, v in enumerate(s["data"]))
            color = PALETTE[k % len(PALETTE)]
            parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.6"/>')
            for i, v in enumerate(s["data"]):
                parts.append(
                    f'<circle cx="{LEFT + band * (i + 0.5):.1f}" cy="{y_of(v):.1f}" r="2" fill="{color}"/>'
                )
    else:
        inner = band * 0.7
        for i in range(n):
            x0 = LEFT + band * i + (band - inner) / 2
            up, down = 0.0, 0.0
            for k, s in enumerate(series):
                v = s["data"][i]
                color = PALETTE[k % len(PALETTE)]
                if stacked:
                    base = up if v >= 0 else down
                    top, bottom = (base + v, base) if v >= 0 else (base, base + v)
                    if v >= 0:
                        up += v
                    else:
                        down += v
                    x, w = x0, inner
                else:
                    w = inner / len(series)
                    x = x0 + w * k
                    top, bottom = max(v, 0.0), min(v, 0.0)
                y1, y2 = y_of(top), y_of(bottom)
                if y2 - y1 > 0:
                    parts.append(
                        f'<rect x="{x:.1f}" y="{y1:.1f}" width="{max(w - 0.5, 0.5):.1f}" height="{y2 - y1:.1f}"'
                        f' fill="{color}"/>'
                    )
    parts += _legend(series)
    return "".join([*parts, "</svg>"])
