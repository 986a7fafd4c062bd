"""Scenarios that need several devices or processes, run in a fresh interpreter.

``python worker.py SCENARIO OUT [DEVICES]`` forces DEVICES CPU devices before JAX starts, runs
the scenario and writes ``OUT/SCENARIO.npz`` (arrays to compare with a single-device run made
by the test) and ``OUT/SCENARIO.json`` (shardings, compiled-program facts).
``python worker.py processes|cli OUT 1 ADDRESS PROCESS_ID`` is one of two processes under
``jax.distributed`` (the library pipeline, or the ``jaxinter layerwise`` command). The
problems are built by ``problems()``, shared with the tests.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

N_MASK, N_ANDOR, N_TRANSFORM, N_SUBSETS = 6, 6, 7, 16
SMALL_PIECES = 2**8  # pieces of the split butterfly at n = 16, so its loops run many trips
TRANSFORMS = ("moebius", "zeta", "or_interactions", "or_inverse", "shapley_values",
              "banzhaf_values")


def problems() -> dict:
    """The inputs every scenario uses (host numpy arrays, fixed seeds)."""
    rng = np.random.default_rng(0)
    return {
        "w1": rng.normal(size=(12, 16)).astype(np.float32) / 3,
        "w2": rng.normal(size=(16, 3)).astype(np.float32) / 4,
        "x": rng.normal(size=(8, 12)).astype(np.float32),
        "baseline": rng.normal(size=(8, 12)).astype(np.float32) * 0.1,
        "target": np.array([0, 1, 2, 0, 1, 2, 0, 1]),
        "v": rng.normal(size=(4, 2, 2**N_ANDOR)).astype(np.float32),
        "u": rng.normal(size=(8, 3, 2**N_TRANSFORM)).astype(np.float32),
        "game": rng.normal(size=2**N_SUBSETS).astype(np.float32),
    }


def model(p):
    """(apply_fn, captured_fn, readouts, players) of the problems."""
    import jax
    import jax.numpy as jnp

    import jaxinter as ji

    def captured_fn(x):
        h = jnp.tanh(x.reshape(x.shape[0], -1) @ p["w1"])
        return h @ p["w2"], {"h": h}

    players = ji.Players.from_groups([[2 * i, 2 * i + 1] for i in range(N_MASK)], (12,))
    readouts = {"h": lambda f: f[:, :3] - f[:, 3:6]}
    return (lambda x: captured_fn(x)[0]), captured_fn, readouts, players, jax


def trip_counts(text: str) -> list[int]:
    """Trip counts of the loops of a compiled program (XLA's known_trip_count annotations)."""
    return [int(k) for k in re.findall(r'known_trip_count":\{"n":"(\d+)"', text)]


def collectives(text: str) -> dict:
    return {op: text.count(op) for op in ("all-gather", "all-to-all", "all-reduce",
                                          "collective-permute")}


def masking(p, out: dict, facts: dict) -> None:
    import jaxinter as ji
    from jaxinter.distributed import global_mesh, shard_rows

    apply_fn, captured_fn, readouts, players, jax = model(p)
    mesh = global_mesh()
    x = shard_rows(p["x"], mesh)
    out["scores"] = ji.masked_scores(apply_fn, x, players, p["baseline"], p["target"],
                                     chunk_size=32, mesh=mesh)
    facts["scores_spec"] = str(out["scores"].sharding.spec)
    out["layers"] = ji.masked_layer_scores(captured_fn, readouts, p["x"][:6], players,
                                           p["baseline"][0], p["target"][:6], chunk_size=32,
                                           mesh=mesh)
    facts["layers_spec"] = str(out["layers"].sharding.spec)  # 6 samples on 4 devices
    for name, m in (("one", None), ("mesh", mesh)):
        program = jax.jit(lambda x, m=m: ji.masked_scores(
            apply_fn, x, players, p["baseline"], p["target"], chunk_size=32, mesh=m))
        text = program.lower(x).compile().as_text()
        facts[f"trips_{name}"], facts[f"collectives_{name}"] = trip_counts(text), collectives(text)


def andor(p, out: dict, facts: dict) -> None:
    import jaxinter as ji
    from jaxinter.distributed import global_mesh

    mesh = global_mesh()
    result = ji.and_or(p["v"], slots=1, mesh=mesh)
    out.update(i_and_slots1=result.i_and, loss_slots1=result.loss, steps_slots1=result.steps)
    facts["andor_spec"] = str(result.i_and.sharding.spec)
    default = ji.and_or(p["v"][:3], mesh=mesh)  # padded to 4 games, one per device
    out.update(loss=default.loss, bound=default.lower_bound, i_and=default.i_and)
    facts["uneven_spec"] = str(default.i_and.sharding.spec)


def transforms(p, out: dict, facts: dict) -> None:
    import jax

    import jaxinter as ji
    from jaxinter.distributed import global_mesh
    from jaxinter.interactions import _layouts

    _layouts.PIECE_VALUES = SMALL_PIECES
    mesh = global_mesh()
    u, game = p["u"], p["game"]
    for name in TRANSFORMS:
        fn = getattr(ji, name)
        batch = fn(u, mesh=mesh)
        subsets = fn(game, mesh=mesh, shard="subsets")
        uneven = fn(u[:6], mesh=mesh)  # 6 games on 4 devices: padded to 8, 2 dropped
        out[f"{name}_batch"], out[f"{name}_subsets"] = batch, subsets
        out[f"{name}_uneven"] = uneven
        facts[f"{name}_specs"] = [str(x.sharding.spec) for x in (batch, subsets, uneven)]
    donated = jax.device_put(game, jax.sharding.NamedSharding(mesh, jax.P("data")))
    out["moebius_donated"] = ji.moebius(donated, mesh=mesh, shard="subsets", donate=True)
    facts["donated_deleted"] = donated.is_deleted()
    out["index_subsets"] = ji.interactions.interaction_index(game, "k-SII", 3, mesh=mesh,
                                                             shard="subsets")
    for shard, data in (("batch", u), ("subsets", game)):
        text = jax.jit(lambda a, s=shard: ji.moebius(a, mesh=mesh, shard=s)).lower(
            data).compile().as_text()
        facts[f"collectives_{shard}"] = collectives(text)


def checks(p, out: dict, facts: dict) -> None:
    import jax.numpy as jnp

    import jaxinter as ji
    from jaxinter.distributed import global_mesh, shard_rows

    mesh = global_mesh()
    bad = shard_rows(jnp.asarray(p["u"]).at[5, 1, 3].set(jnp.nan).at[0, 0, 0].set(jnp.inf),
                     mesh)
    messages = []
    for call in (lambda: ji.moebius(bad, mesh=mesh), lambda: ji.and_or(bad[..., :64]),
                 lambda: ji.masked_scores(model(p)[0], shard_rows(p["x"], mesh),
                                          model(p)[3], p["baseline"],
                                          shard_rows(p["target"] + 3, mesh), mesh=mesh)):
        try:
            call()
            messages.append(None)
        except ji.JaxinterInputError as err:
            messages.append(str(err))
    try:
        ji.errors.check_labels(shard_rows(p["target"] * 2, mesh), num_classes=3)
    except ji.JaxinterInputError as err:
        messages.append(str(err))
    labels = ji.errors.check_labels(shard_rows(p["target"], mesh), num_classes=3)
    facts["labels_spec"] = str(labels.sharding.spec)
    facts["messages"] = messages
    facts["skip"] = ji.moebius(bad, mesh=mesh, check_values=False).shape[0]


def processes(p, out: dict, facts: dict, address: str, process_id: int) -> None:
    from jaxinter.distributed import initialize

    initialize(address, 2, process_id)
    import jax

    import jaxinter as ji
    from jaxinter.distributed import gather, global_mesh, to_global, to_local

    mesh = global_mesh()
    rows = slice(4 * process_id, 4 * process_id + 4)  # this process's samples
    apply_fn, _, _, players, _ = model(p)
    x, base, target = (to_global(p[k][rows], mesh) for k in ("x", "baseline", "target"))
    scores = ji.masked_scores(apply_fn, x, players, base, target, chunk_size=32, mesh=mesh)
    result = ji.and_or(scores, slots=1, mesh=mesh)
    facts.update(process_count=jax.process_count(), devices=len(jax.devices()),
                 scores_spec=str(scores.sharding.spec),
                 local_rows=to_local(scores).shape[0])
    out.update(scores=gather(scores), i_and=gather(result.i_and), loss=gather(result.loss))
    # Orbax: both processes write their shards; read back onto the same global mesh
    saved = {"scores": scores, "result": result, "key": jax.random.key(7)}
    ji.io.save_sharded(Path(argv_folder[0]) / "checkpoint", saved)
    back = ji.io.restore_sharded(Path(argv_folder[0]) / "checkpoint", saved, mesh=mesh)
    facts["restored_spec"] = str(back["result"].i_and.sharding.spec)
    out.update(restored_scores=gather(back["scores"]),
               restored_key=jax.random.key_data(back["key"]))


argv_folder: list = []  # the output folder of the running scenario


def training(p):
    """(model, data, options, a state of its structure) of a small training run on the
    problems' samples: 2 steps an epoch, batch statistics included, ``train``'s Adam."""
    import jax
    import optax

    from jaxinter.models import MLP
    from jaxinter.training import Trainer

    model = MLP((12,), num_classes=3, depth=2, width=8, batchnorm=True)
    like = Trainer(model, optax.adam(1e-3)).init(jax.random.key(0))
    return model, (p["x"], p["target"]), dict(batch_size=4, seed=2, progress=False), like


def train_checkpoint(p, out: dict, facts: dict) -> None:
    """Checkpoints across device counts: the one written by a single-device run (``one``)
    restored onto the 4-device mesh, saved again from there split over the devices
    (``four``), and the run of ``one`` resumed here for a second epoch."""
    import jax

    from jaxinter.distributed import global_mesh
    from jaxinter.training import load_checkpoint, save_checkpoint, train

    model, data, options, like = training(p)
    folder = argv_folder[0]
    state, history = load_checkpoint(folder / "one", like, mesh=global_mesh())
    kernel = state.params["dense1"]["kernel"]  # (12, 8): split in 4 blocks of 3 rows
    facts.update(kernel_spec=str(kernel.sharding.spec), step=int(state.step),
                 kernel_devices=len({s.device for s in kernel.addressable_shards}))
    out.update({f"loaded_{i}": leaf for i, leaf in enumerate(jax.tree.leaves(
        jax.tree.map(lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(
            x.dtype, jax.dtypes.prng_key) else x, state)))})
    save_checkpoint(folder / "four", state, history, {"devices": 4})
    resumed = train(model, data, epochs=2, checkpoint=folder / "one", **options)
    facts["resumed_steps"] = [row["step"] for row in resumed.history]
    out.update({f"resumed_{i}": leaf for i, leaf in enumerate(jax.tree.leaves(
        resumed.variables))})


def transform_memory(n: int, mesh, donate: bool = False) -> tuple[int, int]:
    """(one device, per device on ``mesh`` with shard="subsets") peak bytes of the Moebius
    transform of one float32 game of n players, from the compiled programs (the argument
    donated or not)."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    from jaxinter.distributed import compiled_peak_bytes as peak_bytes
    from jaxinter.interactions import moebius

    axis = mesh.axis_names[0]
    one = jax.ShapeDtypeStruct((2**n,), jnp.float32)
    split = jax.ShapeDtypeStruct((2**n,), jnp.float32, sharding=NamedSharding(mesh, P(axis)))
    donated = (0,) if donate else ()
    single = jax.jit(lambda u: moebius(u, check_values=False, donate=donate),
                     donate_argnums=donated).lower(one).compile()
    sharded = jax.jit(lambda u: moebius(u, check_values=False, mesh=mesh, shard="subsets",
                                        donate=donate), donate_argnums=donated)
    return peak_bytes(single), peak_bytes(sharded.lower(split).compile())


def memory(p, out: dict, facts: dict, sizes=(16,), pieces=SMALL_PIECES) -> None:
    import jax

    import jaxinter as ji
    from jaxinter.distributed import global_mesh
    from jaxinter.interactions import _layouts

    _layouts.PIECE_VALUES = pieces
    facts["pieces"] = pieces
    mesh = global_mesh()
    for n in sizes:
        facts[f"peak_{n}"] = transform_memory(n, mesh)
        facts[f"donated_{n}"] = transform_memory(n, mesh, donate=True)
        game = np.random.default_rng(n).normal(size=2**n).astype(np.float32)
        split = ji.moebius(game, mesh=mesh, shard="subsets", check_values=False)
        facts[f"equal_{n}"] = bool(np.array_equal(np.asarray(split), np.asarray(
            ji.moebius(game, check_values=False))))
        facts[f"spec_{n}"] = str(split.sharding.spec)
    facts["devices"] = jax.device_count()


def memory_large(p, out: dict, facts: dict) -> None:
    from jaxinter.interactions import _layouts

    memory(p, out, facts, sizes=(26,), pieces=_layouts.PIECE_VALUES)


# the published extraction is deterministic on any device count (the ADMM solver on a mesh is
# equal only to float32 rounding), so the command's numbers must match exactly
CLI_ARGS = ["layerwise", "--n", "3", "--samples", "4", "--epochs", "1", "--probe-steps", "20",
            "--depth", "2", "--width", "8", "--examples", "1", "--extraction", "published"]


def cli(p, out: dict, facts: dict, address: str, process_id: int) -> None:
    """``jaxinter layerwise`` as one of two processes (the CLI starts jax.distributed)."""
    from jaxinter.cli import main

    folder = argv_folder[0] / "cli"
    facts["status"] = main([*CLI_ARGS, "--out", str(folder), "--coordinator", address,
                            "--num-processes", "2", "--process-id", str(process_id)])
    import jax

    facts["process_count"] = jax.process_count()


def main(argv: list[str]) -> None:
    scenario, folder, devices = argv[0], Path(argv[1]), int(argv[2]) if len(argv) > 2 else 4
    import jax

    jax.config.update("jax_num_cpu_devices", devices)
    p, out, facts = problems(), {}, {}
    argv_folder[:] = [folder]
    if scenario in ("processes", "cli"):
        globals()[scenario](p, out, facts, argv[3], int(argv[4]))
        scenario = f"{scenario}{argv[4]}"
    else:
        globals()[scenario](p, out, facts)
    facts["device_count"] = jax.device_count()
    np.savez(folder / f"{scenario}.npz", **{k: np.asarray(v) for k, v in out.items()})
    (folder / f"{scenario}.json").write_text(json.dumps(facts))


if __name__ == "__main__":
    main(sys.argv[1:])
