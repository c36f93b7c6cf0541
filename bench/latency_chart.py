"""Latency distribution of constant-rate runs: percentiles per target and an
SVG chart of the three distributions (python3 stdlib only).

Each input is NAME=FILE, FILE the CSV of `vegeta encode --to csv` (column 2
the status, 3 the latency in ns). A run with any non-2xx answer or error is
refused. Prints one line per target, "NAME count p50 p90 p99 p99.9 max" in
milliseconds, and writes the chart to SVG_OUT.

usage: python3 bench/latency_chart.py SVG_OUT TITLE NAME=FILE...
"""
import csv
import math
import sys

svg_out, title, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def load(path):
    lat = []
    with open(path, newline="") as f:
        for row in csv.reader(f):
            code, ns, err = int(row[1]), int(row[2]), row[5]
            if code // 100 != 2 or err:
                sys.exit("latency: %s has a failed request (status %d, %s)" % (path, code, err[:200]))
            lat.append(ns / 1e6)
    if not lat:
        sys.exit("latency: %s has no requests" % path)
    lat.sort()
    return lat


def pct(lat, p):
    """The nearest-rank percentile p (0..100) of sorted lat."""
    k = max(0, min(len(lat) - 1, math.ceil(p / 100 * len(lat)) - 1))
    return lat[k]


series = []
for r in runs:
    name, path = r.split("=", 1)
    lat = load(path)
    series.append((name, lat))
    print(name, len(lat), *("%.3f" % pct(lat, p) for p in (50, 90, 99, 99.9)), "%.3f" % lat[-1])

# The chart: latency (log scale) against the percentile, on the usual
# "1 / (1 - p)" axis, so the tail (99 %, 99.9 %) gets as much room as the
# median.
W, H, L, R, T, B = 760, 420, 70, 170, 40, 50
pw, ph = W - L - R, H - T - B
xmax = 4.0  # log10(1/(1-p)) up to 99.99 %
lo = min(l[0] for _, l in series)
hi = max(l[-1] for _, l in series)
ylo = 10 ** math.floor(math.log10(max(lo, 1e-3)))
yhi = 10 ** math.ceil(math.log10(max(hi, ylo * 10)))


def x(p):
    v = min(xmax, math.log10(1 / (1 - p))) if p < 1 else xmax
    return L + pw * v / xmax


def y(ms):
    ms = max(ms, ylo)
    return T + ph * (1 - (math.log10(ms) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo)))


out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' % (W, H, W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>' % (L, title)]
for p, label in ((0, "0%"), (0.9, "90%"), (0.99, "99%"), (0.999, "99.9%"), (0.9999, "99.99%")):
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x(p), T, x(p), T + ph))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x(p), T + ph + 18, label))
d = ylo
while d <= yhi * 1.0001:
    out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (L, y(d), L + pw, y(d)))
    out.append('<text x="%d" y="%.1f" text-anchor="end">%s ms</text>' % (L - 6, y(d) + 4, ("%g" % d)))
    d *= 10
out.append('<text x="%d" y="%d" text-anchor="middle">percentile of requests</text>' % (L + pw / 2, H - 8))
out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>' % (L, T, pw, ph))
for i, (name, lat) in enumerate(series):
    n = len(lat)
    pts, last = [], None
    # One point per pixel column at most, and the maximum at the end.
    for k in range(n):
        px = x(k / n)
        if last is not None and px - last < 0.5 and k != n - 1:
            continue
        last = px
        pts.append("%.1f,%.1f" % (px, y(lat[k])))
    c = COLOURS[i % len(COLOURS)]
    out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, " ".join(pts)))
    ly = T + 16 + 20 * i
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>' % (L + pw + 12, ly - 4, L + pw + 32, ly - 4, c))
    out.append('<text x="%d" y="%d">%s</text>' % (L + pw + 38, ly, name.replace("&", "&amp;").replace("<", "&lt;")))
out.append("</svg>")
with open(svg_out, "w") as f:
    f.write("\n".join(out) + "\n")
