"""Figures for every analysis: one module per analysis, sharing one style and saver.

``jaxinter.plots.layerwise``, ``.dynamics``, ``.separation``, ``.correlations``, ``.andor`` and
``.training`` take result objects or arrays and write PNG files; the commands embed them in
their HTML reports.
"""

from ._style import AND_COLOR, OR_COLOR, ORDER_CMAP, new_figure, save

__all__ = ["AND_COLOR", "OR_COLOR", "ORDER_CMAP", "new_figure", "save"]
