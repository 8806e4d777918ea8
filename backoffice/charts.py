"""Server-rendered SVG charts for the admin dashboard (no JavaScript, no CDN).

Each function returns a SafeString holding one ``<svg>`` element; every label and value is
escaped. Colours come from CSS custom properties with fallbacks, so the admin's dark mode works.
"""

from django.utils.html import escape
from django.utils.safestring import mark_safe

BAR = "var(--chart-bar, #417690)"
TEXT = "var(--body-quiet-color, #666)"
GRID = "var(--hairline-color, #ddd)"


def nice_ceiling(value):
    """The smallest 1/2/5 × 10^n at or above ``value`` (at least 1): a round top for the axis."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 <= value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _num(value):
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(points, *, title, width=720, height=220, label_every=5, unit="orders"):
    """A vertical bar chart of ``points`` = [(label, value)], with a y axis and a tooltip per bar."""
    left, right, top, bottom = 40, 8, 12, 28
    plot_w = width - left - right
    plot_h = height - top - bottom
    step = nice_ceiling(max((value for _, value in points), default=0) / 4)  # four round gridline steps
    top_value = step * 4
    n = max(len(points), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-bars" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" '
        f'style="max-width:{width}px;font:11px sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):  # gridlines and y labels at 0, 1/4, ... top
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" stroke="{GRID}"/>')
        label = f"{round(value):d}"
        parts.append(f'<text x="{left - 4}" y="{_num(y + 4)}" text-anchor="end" fill="{TEXT}">{escape(label)}</text>')
    for i, (label, value) in enumerate(points):
        x = left + slot * i + (slot - bar_w) / 2
        h = plot_h * value / top_value if top_value else 0
        y = top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(h)}" fill="{BAR}" '
            f'data-value="{int(value)}"><title>{escape(label)}: {int(value)} {escape(unit)}</title></rect>'
        )
        if i % label_every == 0 or i == len(points) - 1:
            parts.append(
                f'<text x="{_num(left + slot * i + slot / 2)}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="{TEXT}">{escape(label)}</text>'
            )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{TEXT}"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def hbar_chart(rows, *, title, width=480, row_height=22, label_width=150):
    """Horizontal bars for ``rows`` = [(label, value, note)], each scaled to the largest value."""
    height = max(len(rows), 1) * row_height + 4
    top_value = max((value for _, value, _ in rows), default=0) or 1
    bar_space = width - label_width - 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-hbars" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" style="max-width:{width}px;font:12px sans-serif">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value, note) in enumerate(rows):
        y = 2 + i * row_height
        w = bar_space * value / top_value
        parts.append(
            f'<text x="{label_width - 6}" y="{y + row_height / 2 + 4:.0f}" text-anchor="end" '
            f'fill="{TEXT}">{escape(label)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{_num(max(w, 0))}" '
            f'height="{row_height - 6}" fill="{BAR}" data-value="{int(value)}"/>'
        )
        parts.append(
            f'<text x="{_num(label_width + max(w, 0) + 4)}" y="{y + row_height / 2 + 4:.0f}" '
            f'fill="{TEXT}">{escape(note)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def orders_per_day_chart(per_day):
    """The dashboard's chart of ``stats.orders_per_day()``."""
    points = [(point["day"].strftime("%b %d"), point["count"]) for point in per_day["days"]]
    return bar_chart(points, title=f"Orders per day, last {len(points)} days")


def sats_per_day_chart(per_day, key="sats", who="paid by buyers"):
    """The dashboard's chart of the sats charged per day (``stats.sats_per_day()``), paid by buyers (``sats``) or
    from the prepaid balance (``balance_sats``)."""
    points = [(point["day"].strftime("%b %d"), point[key]) for point in per_day["days"]]
    return bar_chart(points, title=f"Sats charged per day, {who}, last {len(points)} days", unit="sats")


def referral_per_day_chart(per_day):
    """The dashboard's chart of the referral earned per day (``stats.sats_per_day()``)."""
    points = [(point["day"].strftime("%b %d"), point["referral"]) for point in per_day["days"]]
    return bar_chart(points, title=f"Referral income per day, last {len(points)} days", unit="sats")


def funnel_chart(funnel):
    """Created → paid → completed as horizontal bars with the step rates."""

    def pct(rate):
        return "" if rate is None else f" ({rate:.0%})"

    rows = [
        ("Created", funnel["created"], f"{funnel['created']}"),
        ("Paid", funnel["paid"], f"{funnel['paid']}{pct(funnel['paid_rate'])}"),
        ("Completed", funnel["completed"], f"{funnel['completed']}{pct(funnel['completed_rate'])}"),
    ]
    return hbar_chart(rows, title="Funnel: created, paid, completed", label_width=90)
