"""Arguments every command shares (output, seed, several processes, your own data and model),
and argparse types that check flags at parse time."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import MAX_SEED


def add_common_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Arguments every analysis command shares: ``--out`` and ``--seed``."""
    parser.add_argument(
        "--out", type=output_folder, default=Path("runs") / command,
        help=f"output folder for report.html, figures and summary.json (default runs/{command})",
    )
    parser.add_argument("--seed", type=int_at_least(0, MAX_SEED), default=0,
                        help=f"random seed, 0..{MAX_SEED} (default 0)")
    add_distributed_arguments(parser)


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """``--coordinator``, ``--num-processes``, ``--process-id``, ``--cluster``: run one command
    over several processes with ``jax.distributed`` (docs/distributed.md)."""
    g = parser.add_argument_group(
        "several processes (docs/distributed.md); one process needs none of these")
    g.add_argument("--coordinator", type=host_port, default=None, metavar="HOST:PORT",
                   help="address of process 0's coordinator (or JAX_COORDINATOR_ADDRESS)")
    g.add_argument("--num-processes", type=int_at_least(1), default=None, metavar="N",
                   help="number of processes")
    g.add_argument("--process-id", type=int_at_least(0), default=None, metavar="I",
                   help="index of this process, 0..N-1")
    g.add_argument("--cluster", action="store_true",
                   help="let JAX detect the processes from the cluster (Slurm, Open MPI, "
                        "Kubernetes, Cloud TPU)")


def host_port(text: str) -> str:
    """argparse type: a coordinator address ``host:port`` with a port in 1..65535."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT with a port in 1..65535, got "
                                         f"{text!r}")
    return text


def output_folder(text: str) -> Path:
    """argparse type: a folder that is, or can be created, writable; nothing is created here."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, expected a folder")
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write to {text!r} ({existing} is not a "
                                         f"writable folder)")
    return path


class _DataFile(argparse.Action):
    """``--data PATH``: the dataset is the user's file (``dataset="file"``, ``data_path``)."""

    def __call__(self, parser, namespace, value, option_string=None):
        namespace.dataset, namespace.data_path = "file", value


def add_user_arguments(parser: argparse.ArgumentParser, layers: bool = False) -> None:
    """Your own data and model, the same in every analysis command: ``--data``,
    ``--label-column``, ``--model-factory``, ``--checkpoint`` (and ``--layers``)."""
    g = parser.add_argument_group("your own data and model (docs/your_model.md)")
    g.add_argument("--data", action=_DataFile, metavar="PATH", type=existing_file,
                   help="your dataset instead of --dataset: an .npz with x_train, y_train, "
                        "x_test, y_test, or a CSV with a label column")
    g.add_argument("--label-column", default="label",
                   help="the CSV column of the classes (default label)")
    g.add_argument("--model-factory", default=None, metavar="MODULE:FUNCTION",
                   help="a function returning your Flax Linen or NNX model (module:function "
                        "or file.py:function); it may take input_shape, num_classes, rngs")
    g.add_argument("--checkpoint", default=None, metavar="PATH", type=existing_path,
                   help="your trained weights for --model-factory: an Orbax checkpoint "
                        "directory or a Flax msgpack file")
    if layers:
        g.add_argument("--layers", default=None, metavar="REGEX",
                       help="the layers of your model to analyse (regular expression; default "
                            "every sown layer, or every submodule's output)")


def existing_path(text: str) -> str:
    """argparse type: a file or folder that exists (data, checkpoints)."""
    if not Path(text).expanduser().exists():
        raise argparse.ArgumentTypeError(f"no file or directory {text!r}")
    return text


def existing_file(text: str) -> str:
    """argparse type: a file that exists (a dataset)."""
    path = Path(text).expanduser()
    if not path.is_file():
        raise argparse.ArgumentTypeError(
            f"{'expected a file, got the directory' if path.is_dir() else 'no file'} {text!r}")
    return text


def int_at_least(low: int, high: int | None = None):
    """argparse type: an integer in ``low..high`` (bad flags fail with a usage message)."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"expected an integer {bound}, got {value}")
        return value

    return parse
