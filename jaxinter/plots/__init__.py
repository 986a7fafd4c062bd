"""Figures for every analysis: layer 4 of jaxinter.

One module per analysis, ``jaxinter.plots.layerwise``, ``.dynamics``, ``.separation``,
``.correlations``, ``.andor``, ``.training`` and ``.sweeps``, takes result objects or arrays
and writes PNG files; the commands embed them in their HTML reports. They share one style:
``AND_COLOR``, ``OR_COLOR``, ``ORDER_CMAP``, ``new_figure`` and ``save``. Plots build on the
analyses and the leaves, never on studies or commands.
"""

from ._style import AND_COLOR, OR_COLOR, ORDER_CMAP, new_figure, save

__all__ = ["AND_COLOR", "OR_COLOR", "ORDER_CMAP", "new_figure", "save"]
