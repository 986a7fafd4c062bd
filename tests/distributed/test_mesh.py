"""With 4 forced CPU devices (a subprocess), the ``mesh=`` entry points equal the single-device
results computed here, keep their outputs split, compile without all-gathers of the split axis,
and each device runs a quarter of the chunk loop."""

from __future__ import annotations

import chex
import numpy as np
import pytest
from worker import N_SUBSETS, TRANSFORMS, model, problems

import jaxinter as ji

P = problems()


def test_masked_scores_split_samples_bitwise(forced):
    out, facts = forced("masking")
    apply_fn, captured_fn, readouts, players, _ = model(P)
    ref = ji.masked_scores(apply_fn, P["x"], players, P["baseline"], P["target"], chunk_size=32)
    np.testing.assert_array_equal(out["scores"], np.asarray(ref))
    assert facts["scores_spec"] == "P('data',)"
    layers = ji.masked_layer_scores(captured_fn, readouts, P["x"][:6], players,
                                    P["baseline"][0], P["target"][:6], chunk_size=32)
    chex.assert_shape(out["layers"], (6, 2, 2**6))
    np.testing.assert_array_equal(out["layers"], np.asarray(layers))  # 6 samples: padded to 8
    # 6 rows cannot be split over 4 devices (JAX needs a multiple): padding dropped, whole
    assert facts["layers_spec"] == "P()"
    assert facts["device_count"] == 4


def test_each_device_runs_a_quarter_of_the_chunk_loop(forced):
    _, facts = forced("masking")
    rows = P["x"].shape[0] * 2**6
    assert facts["trips_one"] == [rows // 32]
    assert facts["trips_mesh"] == [rows // 32 // 4]
    assert facts["collectives_mesh"]["all-gather"] == 0
    assert facts["collectives_mesh"]["all-reduce"] == 0


def test_and_or_split_games(forced):
    out, facts = forced("andor")
    ref = ji.and_or(P["v"], slots=1)  # one lane per device: the same iteration and stops
    np.testing.assert_array_equal(out["steps_slots1"], np.asarray(ref.steps))
    np.testing.assert_allclose(out["loss_slots1"], np.asarray(ref.loss), rtol=2e-6)
    scale = np.abs(np.asarray(ref.i_and)).max()  # float32 rounding of the matrix products
    np.testing.assert_allclose(out["i_and_slots1"], np.asarray(ref.i_and), atol=1e-5 * scale)
    assert facts["andor_spec"] == "P('data',)"
    assert facts["uneven_spec"] == "P()"  # 3 games on 4 devices: padded, dropped, whole
    default = ji.and_or(P["v"][:3])  # lanes of another width: equal to float32 rounding
    np.testing.assert_allclose(out["loss"], np.asarray(default.loss), rtol=2e-6)
    np.testing.assert_allclose(out["bound"], np.asarray(default.lower_bound), rtol=1e-5,
                               atol=1e-6)
    assert np.all(np.asarray(default.gap) < 1e-3)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_split_batch_and_subsets(forced, name):
    out, facts = forced("transforms")
    fn = getattr(ji, name)
    np.testing.assert_array_equal(out[f"{name}_batch"], np.asarray(fn(P["u"])))
    np.testing.assert_array_equal(out[f"{name}_uneven"], np.asarray(fn(P["u"][:6])))
    ref = np.asarray(fn(P["game"]))
    if name.endswith("values"):  # block sums added over devices: rounding only
        np.testing.assert_allclose(out[f"{name}_subsets"], ref, rtol=1e-5, atol=1e-4)
        assert facts[f"{name}_specs"] == ["P('data',)", "P()", "P()"]
        return
    if name == "or_inverse":  # w(N), a sum of 2**16 terms, adds the blocks' sums (psum)
        bound = np.finfo(np.float32).eps * np.abs(P["game"]).sum()
        np.testing.assert_allclose(out[f"{name}_subsets"], ref, rtol=0, atol=bound)
    else:  # the same arithmetic on blocks (the butterfly's loops ran 2**8-value pieces)
        np.testing.assert_array_equal(out[f"{name}_subsets"], ref)
    # 6 games on 4 devices cannot stay split (JAX needs a multiple): the padding is dropped
    # and the result comes back whole on every device
    assert facts[f"{name}_specs"] == ["P('data',)", "P('data',)", "P()"]


def test_donated_subset_split_transform_consumes_its_input(forced):
    out, facts = forced("transforms")
    np.testing.assert_array_equal(out["moebius_donated"], np.asarray(ji.moebius(P["game"])))
    assert facts["donated_deleted"]


def test_subset_sharded_programs_transpose_instead_of_gathering(forced, x64):
    out, facts = forced("transforms")
    ref = ji.interactions.interaction_index(P["game"], "k-SII", 3)  # float32, one device
    exact = np.asarray(ji.interactions.interaction_index(P["game"].astype(np.float64), "k-SII",
                                                         3))
    # as close to the float64 index as the single-device float32 result (XLA fuses the weights
    # differently, so they differ by float32 rounding of sums over 2**16 subsets)
    error, error_one = (np.abs(a - exact).max() for a in (out["index_subsets"], np.asarray(ref)))
    assert error <= 2 * error_one + 1e-6
    assert facts["collectives_batch"] == {"all-gather": 0, "all-to-all": 0, "all-reduce": 0,
                                          "collective-permute": 0}
    subsets = facts["collectives_subsets"]
    assert subsets["all-gather"] == 0 and subsets["all-to-all"] >= 2
    assert P["game"].shape == (2**N_SUBSETS,)


def test_value_checks_on_sharded_arrays(forced):
    _, facts = forced("checks")
    finite, andor, target, labels = facts["messages"]
    assert labels == "labels: label 4 outside 0..2 (3 classes)"
    assert facts["labels_spec"] == "P('data',)"  # checked where they are, not gathered
    assert finite == "u: contains 2 NaN or infinite values"
    assert andor == "v: contains 2 NaN or infinite values"
    assert target.startswith("target: label 5 outside 0..2")
    assert facts["skip"] == 8


def _check_memory(facts, n):
    """Each device holds its game block and its result block (one block when the game is
    donated) plus a few pieces of the in-place butterfly, a constant; one device needs at
    least its game and its result (one array donated), so a device of the mesh needs at most
    1/4 of one device's peak plus the constant."""
    block = 4 * 2**n // 4  # float32 bytes of one device's block
    constant = 4 * 4 * facts["pieces"] + 4096  # four pieces in flight, small buffers
    assert facts[f"equal_{n}"] and facts[f"spec_{n}"] == "P('data',)"
    for key, blocks in ((f"peak_{n}", 2), (f"donated_{n}", 1)):
        single, per_device = facts[key]
        assert single >= blocks * 4 * 2**n, (key, single)
        assert per_device <= blocks * block + constant, (key, per_device, block)
        assert per_device <= single / 4 + constant, (key, single, per_device)


def test_subset_sharded_memory_is_a_quarter(forced):
    """n = 16 on 4 devices: each device's compiled program needs a quarter of one device's
    plus a constant, with and without donating the game."""
    _, facts = forced("memory")
    _check_memory(facts, 16)


@pytest.mark.slow
def test_subset_sharded_transform_at_n26(tmp_path):
    """n = 26 (2**26 subsets, 256 MiB a game): runs split over 4 devices, bitwise equal to one
    device, with a quarter of the memory per device plus a constant."""
    from launch import run_worker

    _, facts = run_worker(tmp_path, "memory_large", 4, timeout=1800)
    _check_memory(facts, 26)
