"""svg_plot.py - a small, dependency-free SVG line-plot writer (Python 3 stdlib only).

Used by bench/echo_bench.py, but generic:

    from svg_plot import line_plot, multi_plot

    line_plot("out.svg", "Throughput", "connections", "messages/s",
              {"coil-uring": [(1, 40e3), (100, 90e3)], "baseline": [(1, 38e3), (100, 85e3)]},
              log_x=True)

    multi_plot("grid.svg", "Throughput by message size", [
        {"title": "64 B", "x_label": "connections", "y_label": "msg/s", "series": {...}},
        {"title": "4 KiB", "x_label": "connections", "y_label": "msg/s", "series": {...}},
    ], ncols=2)

Features: linear or log axes (log ticks at decades, with faint minor grid lines at 2..9), "nice"
linear ticks (1/2/2.5/5 x 10^k), compact tick labels (1k, 2.5M), one legend shared by all panels,
consistent colours per series name across panels, optional dashed series, optional horizontal
reference lines (e.g. a ratio of 1.0), <title> tooltips on every data point. A y value of None
breaks the line at that point.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence
from xml.sax.saxutils import escape

PALETTE = [
    "#1f77b4",  # blue
    "#d62728",  # red
    "#2ca02c",  # green
    "#ff7f0e",  # orange
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#e377c2",  # pink
    "#7f7f7f",  # grey
    "#17becf",  # cyan
    "#bcbd22",  # olive
]

FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""

Point = tuple[float, "float | None"]


# ------------------------------------------------------------------------------------------------
# Number formatting and tick generation
# ------------------------------------------------------------------------------------------------

def fmt_num(v: float) -> str:
    """Compact label: 0.25, 12, 1.5k, 20k, 3M, 1.2G."""
    if v == 0:
        return "0"
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{round(v / div, 6):g}{suffix}"
    if a < 1e-3:
        return f"{v:.1e}"
    return f"{round(v, 6):g}"


def nice_step(span: float, target_ticks: int = 5) -> float:
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, target_ticks)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw * 0.999999:
            return m * mag
    return 10 * mag


def linear_ticks(lo: float, hi: float, include_zero: bool, target_ticks: int = 5
                 ) -> tuple[float, float, list[float]]:
    """Return (axis_lo, axis_hi, ticks) with nice round tick values covering [lo, hi]."""
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        pad = abs(hi) * 0.1 if hi != 0 else 1.0
        lo, hi = lo - pad, hi + pad
        if include_zero and lo < 0 <= min(lo + pad, hi - pad):
            lo = 0.0
    step = nice_step(hi - lo, target_ticks)
    a_lo = math.floor(lo / step + 1e-9) * step
    a_hi = math.ceil(hi / step - 1e-9) * step
    n = int(round((a_hi - a_lo) / step))
    ticks = [round(a_lo + i * step, 12) for i in range(n + 1)]
    return a_lo, a_hi, ticks


def log_ticks(lo: float, hi: float) -> tuple[float, float, list[float], list[float]]:
    """Return (axis_lo, axis_hi, decade_ticks, minor_ticks) for positive lo <= hi."""
    e_lo = math.floor(math.log10(lo) + 1e-9)
    e_hi = math.ceil(math.log10(hi) - 1e-9)
    if e_hi == e_lo:  # all values in one decade or exactly a power of ten: show some context
        if 10 ** e_lo == lo:
            e_lo -= 1
        e_hi += 1 if 10 ** e_hi <= hi else 0
        if e_hi == e_lo:
            e_hi += 1
    majors = [10.0 ** e for e in range(e_lo, e_hi + 1)]
    minors = [m * 10.0 ** e for e in range(e_lo, e_hi) for m in range(2, 10)]
    return 10.0 ** e_lo, 10.0 ** e_hi, majors, minors


class _Axis:
    def __init__(self, values: Iterable[float], log: bool, include_zero: bool,
                 target_ticks: int = 5):
        self.log = log
        vals = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
        self.empty = not vals
        if self.empty:
            vals = [1.0, 10.0] if log else [0.0, 1.0]
        lo, hi = min(vals), max(vals)
        if log:
            self.lo, self.hi, self.ticks, self.minor = log_ticks(lo, hi)
        else:
            self.lo, self.hi, self.ticks = linear_ticks(lo, hi, include_zero, target_ticks)
            self.minor = []

    def frac(self, v: float) -> float:
        """Position of v in [0, 1] along the axis."""
        if self.log:
            return (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        return (v - self.lo) / (self.hi - self.lo)

    def usable(self, v: "float | None") -> bool:
        return v is not None and math.isfinite(v) and (v > 0 or not self.log)


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------

def _assign_styles(names: Sequence[str], styles: Mapping[str, Mapping[str, str]] | None
                   ) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    used = {s.get("color") for s in (styles or {}).values() if s.get("color")}
    free = [c for c in PALETTE if c not in used] or PALETTE
    k = 0
    for name in names:
        st = dict((styles or {}).get(name, {}))
        if "color" not in st:
            st["color"] = free[k % len(free)]
            k += 1
        out[name] = st
    return out


def _series_names(panels: Sequence[Mapping]) -> list[str]:
    names: list[str] = []
    for p in panels:
        for n in p.get("series", {}):
            if n not in names:
                names.append(n)
    return names


def _text(x: float, y: float, s: str, size: int = 12, anchor: str = "middle",
          weight: str = "normal", fill: str = "#222", rotate: float | None = None,
          baseline: str | None = None) -> str:
    tr = f" transform=\"rotate({rotate:g} {x:.1f} {y:.1f})\"" if rotate is not None else ""
    bl = f" dominant-baseline=\"{baseline}\"" if baseline else ""
    return (f"<text x=\"{x:.1f}\" y=\"{y:.1f}\" {FONT} font-size=\"{size}\" text-anchor=\"{anchor}\""
            f" font-weight=\"{weight}\" fill=\"{fill}\"{bl}{tr}>{escape(s)}</text>")


def _render_panel(x0: float, y0: float, w: float, h: float, panel: Mapping,
                  styles: Mapping[str, Mapping[str, str]], show_title: bool) -> list[str]:
    series: Mapping[str, Sequence[Point]] = panel.get("series", {})
    log_x = panel.get("log_x", True)
    log_y = panel.get("log_y", False)
    y_zero = panel.get("y_zero", True)
    hlines: Sequence[tuple[float, str]] = panel.get("hlines", ())

    ml, mr, mt, mb = 72, 18, (30 if show_title else 12), 46
    px0, py0 = x0 + ml, y0 + mt
    pw, ph = w - ml - mr, h - mt - mb

    xs = [x for pts in series.values() for x, y in pts if y is not None]
    ys = [y for pts in series.values() for _, y in pts if y is not None]
    ys += [v for v, _ in hlines]
    xa = _Axis(xs, log_x, include_zero=False)
    ya = _Axis(ys, log_y, include_zero=y_zero)

    xpad = 10.0  # keep markers at the ends of the x range off the frame

    def X(v: float) -> float:
        return px0 + xpad + xa.frac(v) * (pw - 2 * xpad)

    def Y(v: float) -> float:
        return py0 + ph - ya.frac(v) * ph

    out: list[str] = ["<g>"]
    out.append(f"<rect x=\"{px0:.1f}\" y=\"{py0:.1f}\" width=\"{pw:.1f}\" height=\"{ph:.1f}\""
               " fill=\"#fcfcfc\" stroke=\"none\"/>")
    if show_title and panel.get("title"):
        out.append(_text(px0 + pw / 2, y0 + 19, panel["title"], size=14, weight="bold"))

    # Grid and ticks.
    for v in xa.minor:
        out.append(f"<line x1=\"{X(v):.1f}\" y1=\"{py0:.1f}\" x2=\"{X(v):.1f}\" y2=\"{py0 + ph:.1f}\""
                   " stroke=\"#eeeeee\" stroke-width=\"1\"/>")
    for v in ya.minor:
        out.append(f"<line x1=\"{px0:.1f}\" y1=\"{Y(v):.1f}\" x2=\"{px0 + pw:.1f}\" y2=\"{Y(v):.1f}\""
                   " stroke=\"#eeeeee\" stroke-width=\"1\"/>")
    for v in xa.ticks:
        x = X(v)
        out.append(f"<line x1=\"{x:.1f}\" y1=\"{py0:.1f}\" x2=\"{x:.1f}\" y2=\"{py0 + ph:.1f}\""
                   " stroke=\"#d8d8d8\" stroke-width=\"1\"/>")
        out.append(f"<line x1=\"{x:.1f}\" y1=\"{py0 + ph:.1f}\" x2=\"{x:.1f}\" y2=\"{py0 + ph + 5:.1f}\""
                   " stroke=\"#444\" stroke-width=\"1\"/>")
        out.append(_text(x, py0 + ph + 18, fmt_num(v), size=11))
    for v in ya.ticks:
        y = Y(v)
        out.append(f"<line x1=\"{px0:.1f}\" y1=\"{y:.1f}\" x2=\"{px0 + pw:.1f}\" y2=\"{y:.1f}\""
                   " stroke=\"#d8d8d8\" stroke-width=\"1\"/>")
        out.append(f"<line x1=\"{px0 - 5:.1f}\" y1=\"{y:.1f}\" x2=\"{px0:.1f}\" y2=\"{y:.1f}\""
                   " stroke=\"#444\" stroke-width=\"1\"/>")
        out.append(_text(px0 - 8, y + 4, fmt_num(v), size=11, anchor="end"))
    # Axes frame.
    out.append(f"<rect x=\"{px0:.1f}\" y=\"{py0:.1f}\" width=\"{pw:.1f}\" height=\"{ph:.1f}\""
               " fill=\"none\" stroke=\"#444\" stroke-width=\"1\"/>")
    # Axis labels.
    xl = panel.get("x_label", "") + (" (log scale)" if log_x else "")
    yl = panel.get("y_label", "") + (" (log scale)" if log_y else "")
    out.append(_text(px0 + pw / 2, py0 + ph + 38, xl, size=12))
    out.append(_text(x0 + 16, py0 + ph / 2, yl, size=12, rotate=-90))

    # Reference lines.
    for v, label in hlines:
        if not ya.usable(v):
            continue
        y = Y(v)
        out.append(f"<line x1=\"{px0:.1f}\" y1=\"{y:.1f}\" x2=\"{px0 + pw:.1f}\" y2=\"{y:.1f}\""
                   " stroke=\"#555\" stroke-width=\"1.2\" stroke-dasharray=\"2 3\"/>")
        if label:
            out.append(_text(px0 + pw - 4, y - 4, label, size=10, anchor="end", fill="#555"))

    # Data.
    if xa.empty or ya.empty and not hlines:
        out.append(_text(px0 + pw / 2, py0 + ph / 2, "no data", size=14, fill="#999"))
    for name, pts in series.items():
        st = styles.get(name, {"color": PALETTE[0]})
        color = st["color"]
        dash = f" stroke-dasharray=\"{st['dash']}\"" if st.get("dash") else ""
        pts_sorted = sorted(((x, y) for x, y in pts if xa.usable(x)), key=lambda p: p[0])
        segs: list[list[tuple[float, float]]] = [[]]
        for x, y in pts_sorted:
            if ya.usable(y):
                segs[-1].append((x, y))
            elif segs[-1]:
                segs.append([])
        for seg in segs:
            if len(seg) >= 2:
                d = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in seg)
                out.append(f"<polyline points=\"{d}\" fill=\"none\" stroke=\"{color}\""
                           f" stroke-width=\"2\" stroke-linejoin=\"round\"{dash}/>")
            for x, y in seg:
                out.append(f"<circle cx=\"{X(x):.1f}\" cy=\"{Y(y):.1f}\" r=\"3.5\" fill=\"{color}\""
                           f" stroke=\"white\" stroke-width=\"1\"><title>{escape(name)}:"
                           f" x={fmt_num(x)}, y={y:.4g}</title></circle>")
    out.append("</g>")
    return out


def _legend(x0: float, y0: float, width: float, names: Sequence[str],
            styles: Mapping[str, Mapping[str, str]]) -> tuple[list[str], float]:
    """Legend rows centred in [x0, x0+width] starting at y0; returns (svg, height used)."""
    if not names:
        return [], 0.0
    item_w = [34 + 7.2 * len(n) + 18 for n in names]
    rows: list[list[int]] = [[]]
    cur = 0.0
    for i, wv in enumerate(item_w):
        if rows[-1] and cur + wv > width - 20:
            rows.append([])
            cur = 0.0
        rows[-1].append(i)
        cur += wv
    out = []
    for r, row in enumerate(rows):
        total = sum(item_w[i] for i in row)
        x = x0 + (width - total) / 2
        y = y0 + 10 + r * 20
        for i in row:
            st = styles[names[i]]
            dash = f" stroke-dasharray=\"{st['dash']}\"" if st.get("dash") else ""
            out.append(f"<line x1=\"{x:.1f}\" y1=\"{y:.1f}\" x2=\"{x + 26:.1f}\" y2=\"{y:.1f}\""
                       f" stroke=\"{st['color']}\" stroke-width=\"2.5\"{dash}/>")
            out.append(f"<circle cx=\"{x + 13:.1f}\" cy=\"{y:.1f}\" r=\"3.5\" fill=\"{st['color']}\""
                       " stroke=\"white\" stroke-width=\"1\"/>")
            out.append(_text(x + 32, y + 4, names[i], size=12, anchor="start"))
            x += item_w[i]
    return out, 20.0 * len(rows) + 4


def multi_plot(path: str, title: str, panels: Sequence[Mapping], ncols: int = 2,
               panel_w: int = 470, panel_h: int = 330,
               styles: Mapping[str, Mapping[str, str]] | None = None,
               subtitle: str | None = None) -> None:
    """Write an SVG with a grid of line-plot panels ("small multiples") sharing one legend.

    Each panel is a mapping with keys: title, x_label, y_label, series (name -> [(x, y), ...]),
    and optionally log_x (default True), log_y (default False), y_zero (default True: the y axis
    includes 0 on linear scales), hlines ([(y, label), ...] dashed reference lines).
    styles maps a series name to {"color": "#rrggbb", "dash": "6 4"}; unspecified series get
    palette colours in order of first appearance, the same in every panel.
    """
    panels = list(panels) or [{"title": "", "series": {}}]
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    names = _series_names(panels)
    st = _assign_styles(names, styles)
    grid_w = ncols * panel_w
    # Widen the figure (panels stay centred) when the title or subtitle would not fit.
    width = max(grid_w, 10.5 * len(title or "") + 40, 6.5 * len(subtitle or "") + 40)
    gx = (width - grid_w) / 2

    body: list[str] = []
    y = 12.0
    if title:
        body.append(_text(width / 2, y + 16, title, size=17, weight="bold"))
        y += 26
    if subtitle:
        body.append(_text(width / 2, y + 12, subtitle, size=11, fill="#555"))
        y += 18
    leg, lh = _legend(0, y, width, names, st)
    body += leg
    y += lh + 4
    for i, p in enumerate(panels):
        r, c = divmod(i, ncols)
        body += _render_panel(gx + c * panel_w, y + r * panel_h, panel_w, panel_h, p, st,
                              show_title=bool(p.get("title")))
    height = y + nrows * panel_h + 6
    svg = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        f"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0f}\" height=\"{height:.0f}\""
        f" viewBox=\"0 0 {width:.0f} {height:.0f}\">",
        f"<rect x=\"0\" y=\"0\" width=\"{width:.0f}\" height=\"{height:.0f}\" fill=\"white\"/>",
        *body,
        "</svg>",
    ]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(svg) + "\n")


def line_plot(path: str, title: str, x_label: str, y_label: str,
              series: Mapping[str, Sequence[Point]], log_x: bool = True, log_y: bool = False,
              y_zero: bool = True, styles: Mapping[str, Mapping[str, str]] | None = None,
              hlines: Sequence[tuple[float, str]] = (), width: int = 640, height: int = 420,
              subtitle: str | None = None) -> None:
    """Write a single line plot to `path` (an SVG file). See multi_plot for the options."""
    panel = {"title": "", "x_label": x_label, "y_label": y_label, "series": series,
             "log_x": log_x, "log_y": log_y, "y_zero": y_zero, "hlines": list(hlines)}
    multi_plot(path, title, [panel], ncols=1, panel_w=width, panel_h=height, styles=styles,
               subtitle=subtitle)


if __name__ == "__main__":  # tiny self-demo: python3 svg_plot.py /tmp/demo.svg
    import sys
    out = sys.argv[1] if len(sys.argv) > 1 else "svg_plot_demo.svg"
    line_plot(out, "demo", "connections", "messages/s",
              {"a": [(1, 4.1e4), (10, 9e4), (100, 1.2e5), (1000, 1.1e5), (10000, 9.5e4)],
               "b": [(1, 3.9e4), (10, 8.5e4), (100, None), (1000, 1.0e5), (10000, 9.0e4)]})
    print(out)
