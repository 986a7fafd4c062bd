"""The commands of the ``jaxinter`` CLI: each module has ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` (see :mod:`jaxinter.cli`)."""
