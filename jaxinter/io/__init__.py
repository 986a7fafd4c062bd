"""Storage, reports and progress: leaves that every other layer may use.

Atomic writes of arrays and JSON, pytree files, resumable per-stage caches, self-contained
HTML reports with embedded figures, and progress display for long jobs.
"""

from ._files import write_atomic
from ._progress import log, progress
from ._report import Section, Table, to_jsonable, write_report
from ._store import StageCache, load_tree, save_json, save_tree, tree_from_arrays, tree_to_arrays
from ._summary import is_labeled, labeled, labeled_array, labeled_frame_rows

__all__ = [
    "Section",
    "StageCache",
    "Table",
    "is_labeled",
    "labeled",
    "labeled_array",
    "labeled_frame_rows",
    "load_tree",
    "log",
    "progress",
    "save_json",
    "save_tree",
    "to_jsonable",
    "tree_from_arrays",
    "tree_to_arrays",
    "write_atomic",
    "write_report",
]
