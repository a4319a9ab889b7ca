"""bench-certificates' anchor: a plain WeasyPrint render of the certificate's own HTML and stylesheet (same fonts,
by the same @font-face file URLs), the way the WeasyPrint documentation shows it —
`HTML(string=html).write_pdf(stylesheets=[CSS(string=css, font_config=fc)], font_config=fc)` with a new
FontConfiguration per document — in a fresh interpreter, so that none of the certificate engine's precomputation
(kept fonts, subset sources, frozen heap) is in play. One warm-up render, then N timed; then, for comparison only,
N renders sharing one FontConfiguration (what a first optimisation would do).

Usage: _plain_render.py HTML_FILE CSS_FILE N. Prints one line `PLAINJSON {...}` (seconds per render, sorted).
"""
import json
import sys
import time

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration


def render(html, css, fc=None):
    fc = fc or FontConfiguration()
    pdf = HTML(string=html).write_pdf(stylesheets=[CSS(string=css, font_config=fc)], font_config=fc)
    return len(pdf)


if __name__ == "__main__":
    html = open(sys.argv[1], encoding="utf-8").read()
    css = open(sys.argv[2], encoding="utf-8").read()
    n = int(sys.argv[3])
    t = time.perf_counter()
    size = render(html, css)
    cold = time.perf_counter() - t
    times = []
    for _ in range(n):
        t = time.perf_counter()
        render(html, css)
        times.append(time.perf_counter() - t)
    times.sort()
    # for comparison (not the anchor): the same, with one FontConfiguration and stylesheet kept across documents
    fc = FontConfiguration()
    render(html, css, fc)
    shared = []
    for _ in range(n):
        t = time.perf_counter()
        render(html, css, fc)
        shared.append(time.perf_counter() - t)
    shared.sort()
    print("PLAINJSON " + json.dumps({"times": times, "cold": cold, "pdf_bytes": size, "shared_fc_times": shared}),
          flush=True)
