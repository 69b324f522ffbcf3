"""Server-rendered SVG charts: the geometry, computed here; the markup in
``web/includes/chart.html``; the colours in ``app.css`` (classes, no inline
styles). Days on the x axis, one value (bars) or several series (lines)."""

import math
from datetime import date

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24  # margins for the axis labels


def _nice_max(value: float) -> float:
    """A top for the y axis at or above ``value`` whose quarters are round
    (1, 2, 2.5 or 5 x 10^k; at least 1 per quarter)."""
    quarter = max(value, 0) / 4
    if quarter <= 1:
        return 4.0
    power = 10 ** math.floor(math.log10(quarter))
    for step in (1, 2, 2.5, 5, 10):
        if quarter <= step * power:
            return float(4 * step * power)
    return float(40 * power)  # pragma: no cover - the loop always returns


def _axes(days: list[date], top: float, unit: str) -> dict:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    ticks = [
        {"y": TOP + plot_h - plot_h * i / 4, "label": _number(top * i / 4) + unit}
        for i in range(5)
    ]
    every = max(1, math.ceil(len(days) / 8))
    slot = plot_w / max(len(days), 1)
    labels = [
        {"x": LEFT + slot * (i + 0.5), "label": day.strftime("%d %b")}
        for i, day in enumerate(days)
        if i % every == 0
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": TOP + plot_h,
        "label_y": HEIGHT - 6,
        "ticks": ticks,
        "labels": labels,
        "slot": slot,
        "plot_h": plot_h,
    }


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def bar_chart(
    title: str, days: list[date], values: list[float], unit: str = ""
) -> dict:
    """One bar per day."""
    top = _nice_max(max(values, default=0))
    axes = _axes(days, top, unit)
    width = axes["slot"] * 0.7
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        height = axes["plot_h"] * value / top
        bars.append(
            {
                "x": LEFT + axes["slot"] * i + (axes["slot"] - width) / 2,
                "y": axes["bottom"] - height,
                "w": width,
                "h": height,
                "title": f"{day:%d %b %Y}: {_number(value)}{unit}",
            }
        )
    return {"kind": "bars", "title": title, **axes, "bars": bars,
            "table": _table(days, {title: values}, unit)}  # fmt: skip


def line_chart(
    title: str, days: list[date], series: dict[str, list[float | None]], unit: str = ""
) -> dict:
    """One polyline per series; days without a value are gaps."""
    known = [v for values in series.values() for v in values if v is not None]
    top = _nice_max(max(known, default=0))
    axes = _axes(days, top, unit)
    lines = []
    for index, (name, values) in enumerate(series.items()):
        runs, run, dots = [], [], []
        for i, value in enumerate(values):
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            x = LEFT + axes["slot"] * (i + 0.5)
            y = axes["bottom"] - axes["plot_h"] * value / top
            run.append(f"{x:.1f},{y:.1f}")
            dots.append(
                {"x": x, "y": y, "title": f"{days[i]:%d %b %Y}: {_number(value)}{unit}"}
            )
        if run:
            runs.append(run)
        lines.append(
            {
                "name": name,
                "series": index,
                "points": [" ".join(r) for r in runs],
                "dots": dots,
            }
        )
    return {"kind": "lines", "title": title, **axes, "lines": lines,
            "table": _table(days, series, unit)}  # fmt: skip


def _table(days, series: dict, unit: str) -> dict:
    """The numbers behind a chart, for screen readers and the curious."""
    return {
        "headers": list(series),
        "rows": [
            (f"{day:%Y-%m-%d}",
             [("—" if values[i] is None else _number(values[i]) + unit)
              for values in series.values()])
            for i, day in enumerate(days)
        ],
    }  # fmt: skip
