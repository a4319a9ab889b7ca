"""Charts as inline SVG, drawn on the server (no script, no asset from the internet). Plain strings with every
label escaped; templates insert them with |safe."""
from django.utils.html import escape


def occupancy_bars(shelters, width=720) -> str:
    """Horizontal bars per shelter: day and night occupancy against their capacity (the grey track)."""
    if not shelters:
        return ""
    row_h, label_w, pad = 46, 200, 8
    bar_w = width - label_w - 90
    h = row_h * len(shelters) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {h}" width="{width}" height="{h}" '
             f'role="img" aria-label="避難所の収容状況（昼間・夜間、定員比）" class="chart">']
    for i, s in enumerate(shelters):
        y = 10 + i * row_h
        name = s.name if len(s.name) <= 12 else s.name[:11] + "…"
        parts.append(f'<text x="0" y="{y + 16}" font-size="13">{escape(name)}<title>{escape(s.name)}</title></text>')
        for j, (label, n, cap, color) in enumerate((("昼", s.day_count, s.capacity_day, "#2f6db5"),
                                                    ("夜", s.night_count, s.capacity_night, "#6b4fa3"))):
            yy = y + j * 18
            cap = max(cap or 0, 1)
            frac = n / cap
            w = int(bar_w * min(frac, 1.0))
            over = frac > 1
            parts.append(f'<text x="{label_w - 22}" y="{yy + 12}" font-size="11">{label}</text>')
            parts.append(f'<rect x="{label_w}" y="{yy}" width="{bar_w}" height="14" fill="#e4e7eb"/>')
            parts.append(f'<rect x="{label_w}" y="{yy}" width="{w}" height="14" '
                         f'fill="{"#c0392b" if over else color}"><title>{label}間 {n}/{cap}人</title></rect>')
            parts.append(f'<text x="{label_w + bar_w + pad}" y="{yy + 12}" font-size="11">{n}/{cap}人'
                         f'{"（超過）" if over else ""}</text>')
    parts.append("</svg>")
    return "".join(parts)


def progress_line(points, total: int, width=720, height=240) -> str:
    """Confirmed residents over time (cumulative), with the resident count as the top line."""
    if not points:
        return ""
    left, bottom, top, right = 56, 34, 14, 16
    pw, ph = width - left - right, height - top - bottom
    ymax = max(total, max(n for _, n in points), 1)
    t0, t1 = points[0][0], points[-1][0]
    span = max((t1 - t0).total_seconds(), 1)
    xy = [(left + pw * (t - t0).total_seconds() / span, top + ph * (1 - n / ymax)) for t, n in points]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(xy))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="安否確認の進み具合（確認済みの住民数の推移）" class="chart">',
             f'<line x1="{left}" y1="{top}" x2="{left + pw}" y2="{top}" stroke="#999" stroke-dasharray="4 3"/>',
             f'<text x="{left + 4}" y="{top - 2}" font-size="11">住民 {total}人</text>',
             f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333"/>',
             f'<path d="{path}" fill="none" stroke="#2f6db5" stroke-width="2.5"/>']
    for k, anchor in ((0, "start"), (len(points) // 2, "middle"), (len(points) - 1, "end")):
        t, n = points[k]
        x, y = xy[k]
        parts.append(f'<text x="{x:.1f}" y="{top + ph + 16}" font-size="11" text-anchor="{anchor}">'
                     f'{escape(t.astimezone().strftime("%m-%d %H:%M"))}</text>')
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#2f6db5"><title>{n}人</title></circle>')
    last = points[-1][1]
    parts.append(f'<text x="{xy[-1][0] - 4:.1f}" y="{xy[-1][1] - 8:.1f}" font-size="12" text-anchor="end">'
                 f'確認済み {last}人（{100 * last / max(total, 1):.1f}%）</text>')
    parts.append(f'<text x="{left - 6}" y="{top + ph}" font-size="11" text-anchor="end">0</text>')
    parts.append("</svg>")
    return "".join(parts)
