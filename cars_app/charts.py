"""Small server-side charts as inline SVG: no JavaScript, no CDN, so they work offline.

Each function returns safe HTML: the SVG, or a "not enough data" note instead of a misleading
picture when there is nothing to draw. The month still under way (`SoFar`) is drawn as such, not
like a full month: its bars hatched, its point hollow and left off the line, its label saying how
many days it holds.
"""

import datetime as dt
import math
import re
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


@dataclass(frozen=True)
class SoFar:
    """The month under way: its first day and how many of its days have passed (today's included)."""

    month: dt.date
    days: int

    @property
    def text(self) -> str:
        return f"so far, {self.days} day{'' if self.days == 1 else 's'}"

    def index(self, months: list[dt.date]) -> int | None:
        return months.index(self.month) if self.month in months else None


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


def _pattern_id(title: str, colour: str) -> str:
    """An id for the hatching of `colour` in the chart `title`, unique on a page of several charts."""
    return "pt-hatch-" + re.sub(r"[^a-z0-9]+", "-", f"{title} {colour}".lower()).strip("-")


def _hatching(title: str, colours: list[str]) -> str:
    patterns = "".join(
        f'<pattern id="{_pattern_id(title, colour)}" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fff"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="2.5"/></pattern>'
        for colour in dict.fromkeys(colours)
    )
    return f"<defs>{patterns}</defs>"


def _frame(
    title: str, months: list[dt.date], axis: Axis, unit: str, body: list[str], legend, so_far: SoFar | None = None
) -> SafeString:
    """The chart around its `body`: grid, axes, month labels (the month so far with its days) and the
    legend, whose entries are (label, colour, how: "solid", "dashed", "hatched" or "hollow")."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="pt-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    hatched = [colour for _label, colour, how in legend if how == "hatched"]
    if hatched:
        parts.append(_hatching(title, hatched))
    for value in axis.ticks:  # horizontal grid lines with their values
        y = TOP + plot_height - plot_height * float(value / axis.top)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{axis.label(value)}</text>')
    parts.append(
        f'<text x="12" y="{TOP + plot_height / 2:.0f}" transform="rotate(-90 12 {TOP + plot_height / 2:.0f})" '
        f'text-anchor="middle" fill="#555">{escape(unit)}</text>'
    )
    label_every = max(1, math.ceil(len(months) / 12))
    so_far_index = so_far.index(months) if so_far else None
    for index, month in enumerate(months):
        x = LEFT + plot_width * (index + 0.5) / len(months)
        if index % label_every == 0 or index == so_far_index:
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="#555">{month:%b %y}</text>'
            )
        if index == so_far_index:  # under its month, kept inside the picture at the right-hand edge
            anchor, x = ("end", WIDTH - 2) if x + 3.2 * len(so_far.text) > WIDTH else ("middle", x)
            parts.append(
                f'<text class="pt-so-far-label" x="{x:.1f}" y="{HEIGHT - BOTTOM + 30}" text-anchor="{anchor}" '
                f'fill="#333" font-style="italic">({so_far.text})</text>'
            )
    parts += body
    x = LEFT
    for label, colour, how in legend:
        parts.append(_legend_mark(title, x, colour, how))
        parts.append(f'<text x="{x + 24}" y="16" fill="#333">{escape(label)}</text>')
        x += max(180, 24 + 7 * len(label))
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _legend_mark(title: str, x: int, colour: str, how: str) -> str:
    if how == "hatched":
        return (
            f'<rect x="{x}" y="6" width="18" height="12" fill="url(#{_pattern_id(title, colour)})" stroke="{colour}"/>'
        )
    if how == "hollow":
        return f'<circle cx="{x + 9}" cy="12" r="4" fill="#fff" stroke="{colour}" stroke-width="2"/>'
    style = 'stroke-dasharray="6 4"' if how == "dashed" else ""
    return f'<line x1="{x}" x2="{x + 18}" y1="12" y2="12" stroke="{colour}" stroke-width="6" {style}/>'


def _month_text(month: dt.date, index: int, so_far: SoFar | None, months: list[dt.date]) -> str:
    """A month as a tooltip names it: "Dec 2026", or "Dec 2026 (so far, 7 days)"."""
    return f"{month:%b %Y}" + (f" ({so_far.text})" if so_far and so_far.index(months) == index else "")


def stacked_bars(
    *, title: str, months: list[dt.date], series: list[Series], unit: str, so_far: SoFar | None = None
) -> SafeString:
    """Each month's series stacked; the month so far hatched, in the same colours."""
    totals = [sum((s.values[i] or 0) for s in series) for i in range(len(months))]
    if not months or not any(totals):
        return _no_data(title)
    axis = Axis.around(float(max(totals)))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / len(months)
    so_far_index = so_far.index(months) if so_far else None
    body = []
    for index, month in enumerate(months):
        base = 0.0
        for s in series:
            value = float(s.values[index] or 0)
            if not value:
                continue
            height = plot_height * value / float(axis.top)
            y = TOP + plot_height - plot_height * base / float(axis.top) - height
            look = f'class="pt-bar" fill="{s.colour}"'
            if index == so_far_index:
                look = f'class="pt-bar pt-so-far" fill="url(#{_pattern_id(title, s.colour)})" stroke="{s.colour}"'
            body.append(
                f'<rect x="{LEFT + index * slot + slot * 0.15:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{height:.1f}" {look}>'
                f"<title>{_month_text(month, index, so_far, months)} {escape(s.label)}: {value:,.2f} "
                f"{escape(unit)}</title></rect>"
            )
            base += value
    legend = [(s.label, s.colour, "solid") for s in series]
    if so_far_index is not None and totals[so_far_index]:
        shown = next(s for s in series if s.values[so_far_index])
        legend.append((f"{so_far.month:%b %y} ({so_far.text})", shown.colour, "hatched"))
    return _frame(title, months, axis, unit, body, legend, so_far)


def lines(
    *,
    title: str,
    months: list[dt.date],
    series: list[Series],
    unit: str,
    reference: Series | None = None,
    so_far: SoFar | None = None,
) -> SafeString:
    """Lines of monthly figures (gaps where a month has none), with an optional reference line. The
    month so far is not on the line: its figure, when it has one, is a hollow point apart."""
    values = [float(v) for s in series for v in s.values if v is not None]
    if not months or not values:
        return _no_data(title)
    everything = values + [float(v) for v in (reference.values if reference else []) if v is not None]
    axis = Axis.around(max(everything))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    so_far_index = so_far.index(months) if so_far else None

    def point(index: int, value: Decimal) -> tuple[float, float]:
        return LEFT + plot_width * (index + 0.5) / len(months), TOP + plot_height - plot_height * float(value) / float(
            axis.top
        )

    def tooltip(index: int, value: Decimal) -> str:
        return f"<title>{_month_text(months[index], index, so_far, months)}: {float(value):,.2f} {escape(unit)}</title>"

    body, legend, hollow = [], [], []
    for s, dashed in [(s, False) for s in series] + ([(reference, True)] if reference else []):
        segment = []
        for index, value in enumerate([*s.values, None]):
            if not dashed and index == so_far_index and value is not None:
                x, y = point(index, value)
                body.append(
                    f'<circle class="pt-point pt-so-far" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" '
                    f'stroke="{s.colour}" stroke-width="2">{tooltip(index, value)}</circle>'
                )
                hollow.append(s.colour)
                value = None  # the line ends at the last whole month
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
                    f"{tooltip(index, value)}</circle>"
                )
        legend.append((s.label, s.colour, "dashed" if dashed else "solid"))
    if hollow:
        legend.append((f"{so_far.month:%b %y} ({so_far.text}), not on the line", hollow[0], "hollow"))
    return _frame(title, months, axis, unit, body, legend, so_far)
