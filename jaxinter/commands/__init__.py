"""The commands of the ``jaxinter`` command line: layer 5 of jaxinter.

One module per command (``layerwise``, ``dynamics``, ``separation``, ``correlations``,
``selfcheck``), each with ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``; ``jaxinter.cli`` dispatches to them. A command parses its options, calls
the library (a study), and renders the result: ``report.html``, PNG figures and
``summary.json`` in ``--out``. See docs/architecture.md#studies-and-commands.
"""
