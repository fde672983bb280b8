"""The report's figures, drawn with matplotlib's Agg canvas (no display, no pyplot).

Each figure is drawn from a :class:`~symgrad.report.content.FigureData` into PDF (for
LaTeX) or SVG (for HTML and Markdown). Lines differ in style and marker as well as colour,
so a figure reads in black and white. SVG text stays text (``svg.fonttype = none``):
smaller files, searchable, and no glyph definitions whose ids could clash when several
figures are inlined in one HTML page.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any, BinaryIO, Callable

from .views import FigureData

__all__ = ["draw", "svg_inline", "FORMATS"]

FORMATS = ("pdf", "svg")
_STYLES = [dict(color="black", linestyle="-", marker="o"),
           dict(color="tab:blue", linestyle="--", marker="s"),
           dict(color="tab:red", linestyle=":", marker="^"),
           dict(color="tab:green", linestyle="-.", marker="D")]


def _activation(ax: Any, data: dict[str, Any]) -> None:
    ax.plot(data["grid"], data["values"], color="black", linestyle="-", label=data["label"])
    ax.plot(data["grid"], data["slopes"], color="tab:blue", linestyle="--",
            label=data["dlabel"])
    ax.axhline(0, color="0.7", linewidth=0.8)
    ax.axvline(0, color="0.7", linewidth=0.8)
    ax.set_xlabel("pre-activation z (dimensionless)")
    ax.set_ylabel("value (dimensionless)")
    ax.set_title(data["title"])
    ax.legend(loc="best")


def _cost(ax: Any, data: dict[str, Any]) -> None:
    w, j = data["parameter"], data["symbol"]
    ax.plot(data["grid"], data["cost"], color="black", linestyle="-", label=f"{j}({w})")
    ax.plot(data["path"], data["path_cost"], color="tab:red", linestyle=":", marker="o",
            label="gradient-descent steps")
    for k, (x, y) in enumerate(zip(data["path"][:4], data["path_cost"][:4])):
        ax.annotate(f"{w}{k}", (x, y), textcoords="offset points", xytext=(4, 6),
                    fontsize=8)
    if data["minimum"] is not None:
        ax.axvline(data["minimum"], color="0.5", linestyle="--", linewidth=1,
                   label=f"minimum at {w} = {data['minimum']:g}")
    ax.set_xlabel(f"weight {w} (dimensionless)")
    ax.set_ylabel(f"cost {j}({w}) (squared output units)")
    ax.legend(loc="best")


def _loss(ax: Any, data: dict[str, Any]) -> None:
    losses = data["losses"]
    ax.plot(data["iterations"], losses, color="black", linestyle="-",
            marker="o" if len(losses) <= 40 else None, markersize=3, label=data["symbol"])
    if all(v > 0 for v in losses) and max(losses) > 20 * min(losses):
        ax.set_yscale("log")
    ax.set_xlabel("iteration i")
    ax.set_ylabel(f"loss {data['symbol']} at iteration i")
    ax.legend(loc="best")


def _epochs(ax: Any, data: dict[str, Any]) -> None:
    """The loss after each epoch and, on a second axis, the test accuracy."""
    epochs, losses = data["epochs"], data["losses"]
    ax.plot(epochs, losses, markersize=3, label=f"loss {data['symbol']} (training samples)",
            **_STYLES[0])
    if all(v > 0 for v in losses) and max(losses) > 20 * min(losses):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel(f"loss {data['symbol']}")
    right = ax.twinx()
    right.plot(epochs, [100 * a for a in data["accuracy"]], markersize=3,
               label="test accuracy (%)", **_STYLES[1])
    right.set_ylabel("test accuracy (%)")
    right.grid(False)
    lines = ax.get_lines() + right.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")


def _rates(fig: Any, data: dict[str, Any]) -> None:
    left, right = fig.subplots(1, 2)
    for style, curve in zip(_STYLES, data["curves"]):
        losses = curve["losses"]
        left.plot(curve["iterations"], losses, markersize=3, label=curve["label"], **style)
        right.plot(curve["iterations"], curve["params"], markersize=3, label=curve["label"],
                   **style)
    if all(v > 0 for c in data["curves"] for v in c["losses"]):
        left.set_yscale("log")
    left.set_xlabel("iteration i")
    left.set_ylabel(f"cost {data['symbol']} (log scale)")
    right.set_xlabel("iteration i")
    right.set_ylabel(f"weight {data['parameter']}")
    if data["minimum"] is not None:
        right.axhline(data["minimum"], color="0.5", linewidth=1)
    left.legend(loc="best", fontsize=8)


def _vanishing(ax: Any, data: dict[str, Any]) -> None:
    layers = data["layers"]
    j = data["symbol"]
    ax.semilogy(layers, data["weights"], label=f"|d{j}/dw| of the layer", **_STYLES[0])
    if not any(math.isnan(b) for b in data["biases"]):
        ax.semilogy(layers, data["biases"], label=f"|d{j}/db| of the layer", **_STYLES[1])
    ax.semilogy(layers, data["products"], label="product of sigmoid slopes, layer to output",
                **_STYLES[2])
    ax.semilogy(layers, data["bounds"], label="bound (1/4) per sigmoid", **_STYLES[3])
    ax.set_xticks(layers)
    ax.set_xlabel("layer l (1 = next to the input)")
    ax.set_ylabel("size (log scale)")
    ax.legend(loc="best", fontsize=8)


_AXES: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "activation": _activation, "cost": _cost, "loss": _loss, "vanishing": _vanishing,
    "epochs": _epochs}


def draw(figure: FigureData, out: BinaryIO, fmt: str) -> None:
    """Draw ``figure`` into the binary stream ``out`` as ``fmt`` (``"pdf"`` or ``"svg"``);
    files are written from memory by :func:`symgrad.files.write_atomic`."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    wide = figure.kind == "rates"
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": figure.name,
                                "pdf.compression": 9, "font.size": 9,
                                "axes.grid": True, "grid.color": "0.9"}):
        # a Figure of its own with the Agg canvas: no pyplot, so no global state and no
        # change to the backend of the caller's session (a notebook keeps its own)
        fig = Figure(figsize=(7.5, 3.2) if wide else (5.5, 3.4))
        FigureCanvasAgg(fig)
        if wide:
            _rates(fig, figure.data)
        else:
            _AXES[figure.kind](fig.add_subplot(1, 1, 1), figure.data)
        fig.tight_layout()
        # no creation date in the metadata, so the same spec gives the same file
        metadata = ({"Date": None, "Creator": "symgrad"} if fmt == "svg"
                    else {"CreationDate": None, "Creator": "symgrad"})
        fig.savefig(out, format=fmt, metadata=metadata)


def svg_inline(figure: FigureData) -> str:
    """The figure as an ``<svg>`` element to put inside an HTML page (no XML prologue)."""
    buffer = io.BytesIO()
    draw(figure, buffer, "svg")
    text = buffer.getvalue().decode("utf-8")
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF boilerplate
    # matplotlib hashes its ids with svg.hashsalt (the figure's name); prefix them too, so
    # that no two figures inlined in one page can share an id
    prefix = figure.name
    text = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    return re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
