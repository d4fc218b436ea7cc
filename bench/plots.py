"""plots.py - the benchmark's plots, drawn with matplotlib (Debian: python3-matplotlib).

    from plots import multi_plot
    files = multi_plot(out_dir / "msgs_per_s", "Echo throughput", panels, ncols=2)
    # -> ["msgs_per_s.png", "msgs_per_s.svg"]: the PNG opens in any image viewer

A figure is a grid of panels ("small multiples") sharing one legend. Each panel is a mapping:
title, x_label, y_label, series (name -> [(x, y), ...]; a y of None leaves a gap), and
optionally log_x (default True), log_y (default False), y_zero (default True: a linear y axis
includes 0), hlines ([(y, label), ...]: dashed reference lines). styles maps a series name to
{"color": "#rrggbb", "dash": "6 4"}; other series take matplotlib's colour cycle, the same colour
in every panel.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def compact(v: float, _pos=None) -> str:
    """Tick label: 0.95, 12, 1.5k, 20k, 3M."""
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{v / div:.4g}{suffix}"
    return f"{v:.4g}"


def _linestyle(dash: str | None):
    if not dash:
        return "-"
    return (0, tuple(float(x) for x in dash.split()))


def multi_plot(stem: Path | str, title: str, panels: Sequence[Mapping], ncols: int = 2,
               styles: Mapping[str, Mapping[str, str]] | None = None,
               subtitle: str | None = None) -> list[str]:
    """Writes stem.png and stem.svg; returns their file names."""
    stem = Path(stem)
    panels = list(panels) or [{"title": "", "series": {}}]
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    height = 3.6 * nrows + 1.2
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, height), squeeze=False)
    styles = dict(styles or {})
    # Series without a style take the colour cycle, minus the colours styles already use.
    taken = {s.get("color") for s in styles.values()}
    cycle = [c for c in plt.rcParams["axes.prop_cycle"].by_key()["color"] if c not in taken]
    colors: dict[str, str] = {}
    handles: dict[str, object] = {}

    for i, panel in enumerate(panels):
        ax = axes[i // ncols][i % ncols]
        for name, points in panel.get("series", {}).items():
            style = styles.get(name, {})
            color = style.get("color") or colors.setdefault(name, cycle[len(colors) % len(cycle)])
            xs = [x for x, _ in points]
            ys = [float("nan") if y is None else y for _, y in points]
            (line,) = ax.plot(xs, ys, marker="o", markersize=4, color=color,
                              linestyle=_linestyle(style.get("dash")), label=name)
            handles.setdefault(name, line)
        for y, label in panel.get("hlines", []):
            ax.axhline(y, color="#888", linestyle=(0, (4, 3)), linewidth=1)
            ax.annotate(label, xy=(0.01, y), xycoords=("axes fraction", "data"),
                        fontsize=8, color="#555", va="bottom")
        if panel.get("log_x", True):
            ax.set_xscale("log")
        if panel.get("log_y", False):
            ax.set_yscale("log")
        elif panel.get("y_zero", True):
            ax.set_ylim(bottom=0)
        ax.xaxis.set_major_formatter(FuncFormatter(compact))
        ax.yaxis.set_major_formatter(FuncFormatter(compact))
        ax.set_title(panel.get("title", ""), fontsize=10)
        ax.set_xlabel(panel.get("x_label", ""))
        ax.set_ylabel(panel.get("y_label", ""))
        ax.grid(True, which="major", alpha=0.3)
        ax.grid(True, which="minor", alpha=0.1)
    for j in range(len(panels), nrows * ncols):
        axes[j // ncols][j % ncols].axis("off")

    fig.suptitle(title, fontsize=13, fontweight="bold", y=1 - 0.08 / height, va="top")
    if subtitle:
        fig.text(0.5, 1 - 0.38 / height, subtitle, ha="center", va="top", fontsize=8, color="#555")
    if handles:
        fig.legend(list(handles.values()), list(handles.keys()), loc="lower center",
                   ncol=min(len(handles), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1 - 0.55 / height))
    files = []
    for ext in ("png", "svg"):
        path = stem.with_suffix("." + ext)
        fig.savefig(path, dpi=110 if ext == "png" else None)
        files.append(path.name)
    plt.close(fig)
    return files
