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

# Drawn as wide as the admin's content area on a laptop, so that the SVG's text shows at about its own
# size when the chart fills the page's width.
WIDTH, HEIGHT = 1160, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 40


@dataclass(frozen=True)
class Series:
    label: str
    values: list[Decimal | None]  # one per month; None = no figure that month
    colour: str


def _no_data(title: str) -> SafeString:
    return format_html('<p class="pt-no-data">{}: not enough data to draw yet.</p>', title)


@dataclass(frozen=True)
class Axis:
    """A y axis from 0 to `top` in round steps (1, 2 or 5 times a power of ten)."""

    top: Decimal
    step: Decimal

    @classmethod
    def around(cls, highest: float, most_ticks: int = 5) -> "Axis":
        if highest <= 0:
            return cls(Decimal(1), Decimal("0.2"))
        rough = Decimal(repr(highest)) / most_ticks
        magnitude = Decimal(10) ** math.floor(math.log10(rough))
        step = next(nice * magnitude for nice in (1, 2, 5, 10) if nice * magnitude >= rough)
        return cls(step * math.ceil(Decimal(repr(highest)) / step), step)

    @property
    def ticks(self) -> list[Decimal]:
        return [self.step * index for index in range(int(self.top / self.step) + 1)]

    def label(self, value: Decimal) -> str:
        """Thousands as 80k, others with the decimals the step needs: "0.2", "1,500", "80k"."""
        if self.step >= 1000 and value:
            return f"{value / 1000:,f}k"
        return f"{value:,.{max(0, -self.step.normalize().as_tuple().exponent)}f}"


def _frame(title: str, months: list[dt.date], axis: Axis, unit: str, body: list[str], legend) -> SafeString:
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="pt-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for value in axis.ticks:  # horizontal grid lines with their values
        y = TOP + plot_height - plot_height * float(value / axis.top)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{axis.label(value)}</text>')
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
    axis = Axis.around(float(max(totals)))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / len(months)
    body = []
    for index, month in enumerate(months):
        base = 0.0
        for s in series:
            value = float(s.values[index] or 0)
            if not value:
                continue
            height = plot_height * value / float(axis.top)
            y = TOP + plot_height - plot_height * base / float(axis.top) - height
            body.append(
                f'<rect class="pt-bar" x="{LEFT + index * slot + slot * 0.15:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{height:.1f}" fill="{s.colour}">'
                f"<title>{month:%b %Y} {escape(s.label)}: {value:,.2f} {escape(unit)}</title></rect>"
            )
            base += value
    return _frame(title, months, axis, unit, body, [(s.label, s.colour, False) for s in series])


def lines(
    *, title: str, months: list[dt.date], series: list[Series], unit: str, reference: Series | None = None
) -> SafeString:
    """Lines of monthly figures (gaps where a month has none), with an optional reference line."""
    values = [float(v) for s in series for v in s.values if v is not None]
    if not months or not values:
        return _no_data(title)
    everything = values + [float(v) for v in (reference.values if reference else []) if v is not None]
    axis = Axis.around(max(everything))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def point(index: int, value: Decimal) -> tuple[float, float]:
        return LEFT + plot_width * (index + 0.5) / len(months), TOP + plot_height - plot_height * float(value) / float(
            axis.top
        )

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
    return _frame(title, months, axis, unit, body, legend)
