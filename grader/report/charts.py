"""Training curves as inline SVG: no scripts, no fonts, nothing fetched; every label escaped."""

from __future__ import annotations

import math
import typing as t
from collections.abc import Mapping, Sequence

from markupsafe import Markup

from grader.report.formats import format_number

_W, _H = 320, 160
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 8, 22, 30
_COLOURS = ("#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#a16207", "#0f766e")


# Dash patterns tell series apart in greyscale print and for colour-blind readers.
_DASHES = ("", "6 3", "2 2", "8 3 2 3")


def svg_line_chart(
    series: Mapping[str, Sequence[float]],
    title: str,
    *,
    y_label: str = "",
    y_range: tuple[float, float] | None = None,
) -> Markup:
    """Draw per-epoch series as a small inline SVG line chart.

    Args:
        series: Name -> one value per epoch. Non-finite values (NaN, inf) are skipped; a series
            with a single finite value is drawn as a dot.
        title: Accessible name of the chart (``<title>`` and ``aria-label``).
        y_label: Optional label of the vertical axis.
        y_range: Vertical range to draw, so that charts set side by side share a scale; the
            series' own range when None (values outside it are clamped to the frame).

    Returns:
        Safe markup for an ``<svg>`` element in a 320x160 viewBox; with no finite values at all
        it shows the axes and "no data".
    """
    # Every fragment is a literal Markup template filled by Markup.format, which escapes each
    # argument: series names and titles come from the student's notebook.
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    mid_x, mid_y = _LEFT + plot_w / 2, _TOP + plot_h / 2
    points = {
        name: [(i, float(v)) for i, v in enumerate(values) if _finite(v)]
        for name, values in series.items()
    }
    finite = [v for pts in points.values() for _, v in pts]
    n_epochs = max((len(values) for values in series.values()), default=0)

    parts = _frame(series, points, title, y_label)

    if not finite:
        parts.append(
            Markup(
                '<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="11" '
                'fill="#4b5563">no data</text>'
            ).format(mid_x, mid_y + 4)
        )
        parts.append(Markup("</svg>"))
        return Markup("").join(parts)

    lo, hi = y_range if y_range is not None else (min(finite), max(finite))
    if hi == lo:
        # A flat line would divide by zero; centre it in a band around the value.
        pad = abs(lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad

    def x_of(i: int) -> float:
        if n_epochs <= 1:
            return mid_x
        return _LEFT + plot_w * i / (n_epochs - 1)

    def y_of(v: float) -> float:
        return _TOP + plot_h * (hi - min(max(v, lo), hi)) / (hi - lo)

    # Axis ticks: the value range and the first/last epoch (1-based, as Keras prints them).
    for value in (hi, (hi + lo) / 2, lo):
        parts.append(
            Markup('<text x="{}" y="{:.1f}" text-anchor="end" font-size="9">{}</text>').format(
                _LEFT - 3, y_of(value) + 3, format_number(value, 3)
            )
        )
    tick = Markup('<text x="{:.1f}" y="{}" text-anchor="{}" font-size="9">{}</text>')
    tick_y = _TOP + plot_h + 11
    if n_epochs <= 1:
        parts.append(tick.format(mid_x, tick_y, "middle", 1))
    else:
        parts.append(tick.format(_LEFT, tick_y, "start", 1))
        parts.append(tick.format(_LEFT + plot_w, tick_y, "end", n_epochs))

    parts += _series(points, x_of, y_of)
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _frame(
    series: Mapping[str, Sequence[float]],
    points: Mapping[str, list[tuple[int, float]]],
    title: str,
    y_label: str,
) -> list[Markup]:
    """The chart's element, title, description, plot frame and axis labels."""
    plot_w = _W - _LEFT - _RIGHT
    plot_h = _H - _TOP - _BOTTOM
    mid_x, mid_y = _LEFT + plot_w / 2, _TOP + plot_h / 2
    # No xmlns: inline SVG in HTML5 does not need one, and the report stays free of URLs.
    parts = [
        Markup(
            '<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
            'aria-label="{title}" class="chart">'
        ).format(w=_W, h=_H, title=title),
        Markup("<title>{}</title><desc>{}</desc>").format(
            title, _chart_description(series, points)
        ),
        Markup(
            '<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#9ca3af" '
            'stroke-width="1"/>'
        ).format(_LEFT, _TOP, plot_w, plot_h),
        Markup('<text x="{:.1f}" y="{}" text-anchor="middle" font-size="10">epoch</text>').format(
            mid_x, _H - 4
        ),
    ]
    if y_label:
        parts.append(
            Markup(
                '<text x="10" y="{y:.1f}" text-anchor="middle" font-size="10" '
                'transform="rotate(-90 10 {y:.1f})">{label}</text>'
            ).format(y=mid_y, label=y_label)
        )

    return parts


def _series(
    points: Mapping[str, list[tuple[int, float]]],
    x_of: t.Callable[[int], float],
    y_of: t.Callable[[float], float],
) -> list[Markup]:
    """Each series' line, dots and legend entry (sample line, then name)."""
    parts = []
    legend_x = float(_LEFT)
    for k, (name, pts) in enumerate(points.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        dash = _DASHES[k % len(_DASHES)] or "none"
        if len(pts) >= 2:
            coords = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in pts)
            parts.append(
                Markup(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5" '
                    'stroke-dasharray="{}"/>'
                ).format(coords, colour, dash)
            )
        # Dots mark the epochs while they are few enough to tell apart, and always the last one.
        for i, v in pts if len(pts) <= 12 else pts[-1:]:
            parts.append(
                Markup('<circle cx="{:.1f}" cy="{:.1f}" r="2" fill="{}"/>').format(
                    x_of(i), y_of(v), colour
                )
            )
        # Legend entries sit in the top margin, one after another: sample line, then name.
        parts.append(
            Markup(
                '<line x1="{:.1f}" y1="11" x2="{:.1f}" y2="11" stroke="{}" '
                'stroke-width="1.5" stroke-dasharray="{}"/>'
            ).format(legend_x, legend_x + 14, colour, dash)
        )
        parts.append(
            Markup('<text x="{:.1f}" y="14" font-size="9">{}</text>').format(legend_x + 17, name)
        )
        legend_x += 24 + 5.5 * len(name)
    return parts


def _chart_description(
    series: Mapping[str, Sequence[float]], points: Mapping[str, list[tuple[int, float]]]
) -> str:
    if not series:
        return "No series."
    described = []
    for name, values in series.items():
        pts = points.get(name, [])
        if pts:
            epochs = f"{len(values)} epoch{'s' if len(values) != 1 else ''}"
            described.append(f"{name}: {epochs}, last {format_number(pts[-1][1], 4)}")
        else:
            described.append(f"{name}: no finite values")
    return "; ".join(described) + "."


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def last_value(values: Sequence[float]) -> str:
    finite = [v for v in values if _finite(v)]
    if finite:
        return format_number(finite[-1], 4)
    return "nan" if values else "—"
