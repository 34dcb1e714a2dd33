"""Small SVG bar charts rendered on the server: no script, no CDN, readable without JavaScript.

Every label and number goes through ``format_html``, so nothing from the database can
inject markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 480
HEIGHT = 120
LEFT = 44
BOTTOM = 18
TOP = 8


def _scale_label(value: Decimal | int) -> str:
    value = Decimal(value)
    for bound, suffix in ((Decimal(10) ** 9, "G"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if value >= bound:
            return f"{(value / bound):.1f}{suffix}"
    return f"{value:.0f}" if value == value.to_integral_value() else f"{value:.2f}"


def bar_chart(
    values: Sequence[Decimal | int], labels: Sequence[str], *, title: str, css_id: str, color: str = "#417690"
) -> SafeString:
    """A bar per value with its label under every ``step``-th bar and the maximum on the axis."""
    count = max(1, len(values))
    top = max((Decimal(v) for v in values), default=Decimal(0))
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / count
    bars = []
    for i, value in enumerate(values):
        height = 0.0 if not top else float(Decimal(value) / top) * plot_h
        x = LEFT + i * slot + slot * 0.1
        y = TOP + plot_h - height
        bars.append((f"{x:.1f}", f"{y:.1f}", f"{slot * 0.8:.1f}", f"{height:.1f}", color, labels[i], str(value)))
    step = max(1, count // 6)
    ticks = [
        (f"{LEFT + i * slot + slot / 2:.1f}", HEIGHT - 4, labels[i]) for i in range(0, count, step) if i < len(labels)
    ]
    return format_html(
        '<svg id="{}" class="dashboard-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}">'
        "<title>{}</title>"
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">0</text>'
        "{}{}</svg>",
        css_id,
        title,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        title,
        LEFT,
        TOP + plot_h,
        WIDTH - 4,
        TOP + plot_h,
        LEFT - 4,
        TOP + 8,
        _scale_label(top),
        LEFT - 4,
        TOP + plot_h,
        format_html_join(
            "",
            '<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
            bars,
        ),
        format_html_join("", '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>', ticks),
    )
