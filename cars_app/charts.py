"""Small server-side charts as inline SVG: no JavaScript, no CDN, so they work offline.

Each function returns safe HTML: the SVG, or a "not enough data" note instead of a misleading
picture when there is nothing to draw.
"""

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 40


@dataclass(frozen=True)
class Series:
    label: str
    values: list[Decimal | None]  # one per month; None = no figure that month
    colour: str


def _no_data(title: str) -> SafeString:
    return format_html('<p class="pt-no-data">{}: not enough data to draw yet.</p>', title)


def _nice_ceiling(value: float) -> float:
    """A round number just above `value`, for the top of the y axis."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if step * magnitude >= value)


def _frame(title: str, months: list[dt.date], top_value: float, unit: str, body: list[str], legend) -> SafeString:
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="pt-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(5):  # horizontal grid lines with their values
        value = top_value * tick / 4
        y = TOP + plot_height - plot_height * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{value:,.4g}</text>')
    parts.append(
        f'<text x="12" y="{TOP + plot_height / 2:.0f}" transform="rotate(-90 12 {TOP + plot_height / 2:.0f})" '
        f'text-anchor="middle" fill="#555">{escape(unit)}</text>'
    )
    label_every = max(1, math.ceil(len(months) / 12))
    for index, month in enumerate(months):
        if index % label_every == 0:
            x = LEFT + plot_width * (index + 0.5) / len(months)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="#555">{month:%b %y}</text>'
            )
    parts += body
    for index, (label, colour, dashed) in enumerate(legend):
        x = LEFT + index * 180
        style = 'stroke-dasharray="6 4"' if dashed else ""
        parts.append(f'<line x1="{x}" x2="{x + 18}" y1="12" y2="12" stroke="{colour}" stroke-width="6" {style}/>')
        parts.append(f'<text x="{x + 24}" y="16" fill="#333">{escape(label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def stacked_bars(*, title: str, months: list[dt.date], series: list[Series], unit: str) -> SafeString:
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(months))]
    if not months or not any(totals):
        return _no_data(title)
    top_value = _nice_ceiling(float(max(totals)))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / len(months)
    body = []
    for index, month in enumerate(months):
        base = 0.0
        for s in series:
            value = float(s.values[index] or 0)
            if not value:
                continue
            height = plot_height * value / top_value
            y = TOP + plot_height - plot_height * base / top_value - height
            body.append(
                f'<rect class="pt-bar" x="{LEFT + index * slot + slot * 0.15:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{s.colour}">'
                f"<title>{month:%b %Y} {escape(s.label)}: {value:,.2f} {escape(unit)}</title></rect>"
            )
            base += value
    return _frame(title, months, top_value, unit, body, [(s.label, s.colour, False) for s in series])


def lines(
    *, title: str, months: list[dt.date], series: list[Series], unit: str, reference: Series | None = None
) -> SafeString:
    """Lines of monthly figures (gaps where a month has none), with an optional reference line."""
    values = [float(v) for s in series for v in s.values if v is not None]
    if not months or not values:
        return _no_data(title)
    everything = values + [float(v) for v in (reference.values if reference else []) if v is not None]
    top_value = _nice_ceiling(max(everything))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def point(index: int, value: Decimal) -> tuple[float, float]:
        return LEFT + plot_width * (index + 0.5) / len(months), TOP + plot_height - plot_height * float(
            value
        ) / top_value

    body, legend = [], []
    for s, dashed in [(s, False) for s in series] + ([(reference, True)] if reference else []):
        segment = []
        for index, value in enumerate([*s.values, None]):
            if value is None:
                if len(segment) > 1 or (segment and not dashed):
                    style = 'stroke-dasharray="6 4"' if dashed else ""
                    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
                    body.append(f'<polyline points="{path}" fill="none" stroke="{s.colour}" stroke-width="2" {style}/>')
                segment = []
                continue
            x, y = point(index, value)
            segment.append((x, y))
            if not dashed:
                body.append(
                    f'<circle class="pt-point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.colour}">'
                    f"<title>{months[index]:%b %Y}: {float(value):,.2f} {escape(unit)}</title></circle>"
                )
        legend.append((s.label, s.colour, dashed))
    return _frame(title, months, top_value, unit, body, legend)
