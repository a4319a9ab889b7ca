"""Charts as inline SVG drawn on the server (nothing from the internet; CSP default-src 'self' allows inline SVG
markup). Each function returns safe markup; every text is escaped."""
from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import mark_safe

PALETTE = ["#2b6cb0", "#38a169", "#d69e2e", "#c53030", "#805ad5", "#718096", "#dd6b20"]


def stacked_bars(rows, series, *, width=720, bar=26, title="") -> str:
    """Horizontal 100% stacked bars. rows: [(label, {series_key: value})]; series: [(key, label)]."""
    left, gap, top = 120, 14, 30
    height = top + len(rows) * (bar + gap) + 40
    span = width - left - 20
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>']
    for i, (label, values) in enumerate(rows):
        y = top + i * (bar + gap)
        total = sum(values.get(k, 0) for k, _ in series) or 1
        parts.append(f'<text x="{left - 8}" y="{y + bar * 0.7:.1f}" text-anchor="end" font-size="13">'
                     f'{escape(label)}</text>')
        x = float(left)
        for j, (k, slabel) in enumerate(series):
            v = values.get(k, 0)
            w = span * v / total
            if w <= 0:
                continue
            parts.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{bar}" fill="{PALETTE[j % 7]}">'
                         f'<title>{escape(slabel)} {v:,}（{100 * v / total:.1f}%）</title></rect>')
            if w > 46:
                parts.append(f'<text x="{x + w / 2:.1f}" y="{y + bar * 0.7:.1f}" text-anchor="middle" '
                             f'font-size="11" fill="#fff">{100 * v / total:.1f}%</text>')
            x += w
    ly = height - 18
    lx = left
    for j, (k, slabel) in enumerate(series):
        parts.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{PALETTE[j % 7]}"/>'
                     f'<text x="{lx + 16}" y="{ly}" font-size="12">{escape(slabel)}</text>')
        lx += 26 + 13 * len(slabel)
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bars(rows, *, width=720, bar=20, title="", unit="", target=None) -> str:
    """Horizontal bars with values. rows: [(label, value)]; optional target line (same unit)."""
    left, gap, top = 120, 8, 10
    height = top + len(rows) * (bar + gap) + 20
    vmax = max([v for _, v in rows] + [target or 0] + [1])
    span = width - left - 110
    parts = [f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, v) in enumerate(rows):
        y = top + i * (bar + gap)
        w = span * v / vmax
        parts.append(f'<text x="{left - 8}" y="{y + bar * 0.75:.1f}" text-anchor="end" font-size="12">'
                     f'{escape(label)}</text><rect x="{left}" y="{y}" width="{w:.2f}" height="{bar}" '
                     f'fill="{PALETTE[0]}"/><text x="{left + w + 6:.1f}" y="{y + bar * 0.75:.1f}" font-size="12">'
                     f'{v:,}{escape(unit)}</text>')
    if target:
        x = left + span * target / vmax
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 14}" stroke="#c53030" '
                     f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{height - 2}" font-size="11" fill="#c53030" '
                     f'text-anchor="middle">目標 {target:,}{escape(unit)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
