"""Storage, reports and progress: layer 1 of jaxinter, a leaf every higher layer may use.

- Files that are whole or absent: ``write_atomic``, ``save_json``, ``to_jsonable``; what
  identifies an input file's content: ``file_fingerprint``.
- Pytrees of arrays on disk (typed PRNG keys included): ``save_tree``, ``load_tree``,
  ``tree_to_arrays``, ``tree_from_arrays``.
- Sharded pytrees (global arrays of several devices and processes, training state) with JSON
  metadata as Orbax checkpoint directories, restored onto any mesh: ``save_sharded``,
  ``restore_sharded``, ``sharded_meta``.
- Resumable jobs: ``StageCache``, one atomic file per stage, kept apart by the options each
  stage ``depends`` on (``get_or_compute``).
- Self-describing ``summary.json`` content: ``labeled`` arrays (``{"axes", "coords",
  "values"}``), read back with ``labeled_array`` or as tidy rows with ``labeled_frame_rows``;
  ``is_labeled``; every labeled array of a summary tree with its path: ``labeled_items``.
- Tidy pandas tables of every result dataclass and study: ``to_dataframe`` (pandas is the
  optional extra ``jaxinter[pandas]``).
- Reports: ``write_report`` writes a self-contained ``report.html`` (``Section``, ``Table``,
  embedded PNG figures) and ``summary.json``.
- Progress of long jobs on stderr (a live tqdm bar on a terminal, one line per stage
  elsewhere): ``Progress``, ``progress``, ``log``.

It imports nothing from the other layers.
"""

from ._checkpoints import restore_sharded, save_sharded, sharded_meta
from ._files import file_fingerprint, write_atomic
from ._frames import labeled_items, to_dataframe
from ._progress import Progress, log, progress
from ._report import Section, Table, to_jsonable, write_report
from ._store import StageCache, load_tree, save_json, save_tree, tree_from_arrays, tree_to_arrays
from ._summary import is_labeled, labeled, labeled_array, labeled_frame_rows

__all__ = [
    "Progress",
    "Section",
    "StageCache",
    "Table",
    "file_fingerprint",
    "is_labeled",
    "labeled",
    "labeled_array",
    "labeled_frame_rows",
    "labeled_items",
    "load_tree",
    "log",
    "progress",
    "restore_sharded",
    "save_json",
    "save_sharded",
    "save_tree",
    "sharded_meta",
    "to_dataframe",
    "to_jsonable",
    "tree_from_arrays",
    "tree_to_arrays",
    "write_atomic",
    "write_report",
]
