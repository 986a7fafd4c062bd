"""Users' own models and data in the studies: the shared config fields, and a user's factory
trained by the separation, dynamics and correlations studies."""

import textwrap

import numpy as np
import pytest

from jaxinter.analysis import separation_fuzziness
from jaxinter.data import load_dataset
from jaxinter.errors import JaxinterInputError
from jaxinter.studies import (
    CorrelationsConfig,
    DynamicsConfig,
    LayerwiseConfig,
    SeparationConfig,
    run_correlations,
    run_dynamics,
    run_separation,
)

FACTORIES = textwrap.dedent('''
    from flax import linen, nnx

    from jaxinter.models import MLP


    class Small(nnx.Module):
        def __init__(self, features, num_classes, rngs):
            self.first = nnx.Linear(features, 12, rngs=rngs)
            self.second = nnx.Linear(12, 12, rngs=rngs)
            self.head = nnx.Linear(12, num_classes, rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.first(x.reshape(x.shape[0], -1)))
            self.sow(nnx.Intermediate, "h1", x)
            x = nnx.relu(self.second(x))
            self.sow(nnx.Intermediate, "h2", x)
            return self.head(x)


    def nnx_small(input_shape, num_classes, rngs):
        size = 1
        for d in input_shape:
            size *= d
        return Small(size, num_classes, rngs)


    def linen_dense(num_classes):
        return linen.Dense(num_classes)


    def mlp(input_shape, num_classes):
        return MLP(input_shape, num_classes, depth=2, width=8, activation="quadratic")
''')


@pytest.fixture
def factories(tmp_path):
    path = tmp_path / "factories.py"
    path.write_text(FACTORIES)
    return path


@pytest.fixture
def wine_npz(tmp_path):
    ds = load_dataset("wine")
    path = tmp_path / "wine.npz"
    np.savez(path, x_train=ds.x_train, y_train=ds.y_train, x_test=ds.x_test, y_test=ds.y_test)
    return path, ds


@pytest.mark.parametrize("config", [LayerwiseConfig, SeparationConfig, DynamicsConfig,
                                    CorrelationsConfig])
def test_every_config_checks_the_user_fields(config, factories, tmp_path):
    with pytest.raises(JaxinterInputError, match=r"data_path: expected a path for dataset "
                                                 r"'file'"):
        config(dataset="file")
    with pytest.raises(JaxinterInputError, match=r"factories.py has no function 'nope'"):
        config(model_factory=f"{factories}:nope")
    with pytest.raises(JaxinterInputError, match=r"label_column: expected a column name"):
        config(label_column="")
    if config is DynamicsConfig:  # it trains from initialization
        with pytest.raises(JaxinterInputError, match=r"checkpoint: this study trains"):
            config(model_factory=f"{factories}:nnx_small", checkpoint=str(tmp_path))
        return
    with pytest.raises(JaxinterInputError, match=r"checkpoint: needs model_factory"):
        config(checkpoint=str(tmp_path))
    with pytest.raises(JaxinterInputError, match=r"checkpoint: no file or directory .*absent"):
        config(model_factory=f"{factories}:nnx_small", checkpoint=str(tmp_path / "absent"))


def test_separation_trains_an_nnx_factory_on_a_data_file(factories, wine_npz):
    path, ds = wine_npz
    study = run_separation(SeparationConfig(dataset="file", data_path=str(path),
                                            model_factory=f"{factories}:nnx_small",
                                            epochs=2, batch_size=32, track_every=1))
    (run,) = study.runs
    assert (run.variant, run.depth) == ("model", 2) and study.variants == ("model",)
    assert run.final.names == ("input", "h1", "h2")
    direct = float(separation_fuzziness(ds.x_train.astype(np.float64), ds.y_train))
    assert float(run.final.law.fuzziness[0]) == pytest.approx(direct, rel=1e-6)
    np.testing.assert_allclose(run.epochs, [0, 1, 2])
    labels = study.summary()["fuzziness"]["coords"]
    assert labels["variant"] == ["model"] and labels["depth"] == [2]


def test_dynamics_trains_a_linen_factory(factories, wine_npz):
    path, _ = wine_npz
    study = run_dynamics(DynamicsConfig(dataset="file", data_path=str(path), players=4,
                                        model_factory=f"{factories}:linen_dense",
                                        noise=(0.0,), seeds=1, steps=40, every=20, probe=4,
                                        method="and", batch_size=32))
    assert study.history.record.i_and.shape == (3, 1, 8, 1, 16)
    assert study.dataset == "wine" and np.isfinite(study.test_accuracy).all()


def test_correlations_takes_a_jaxinter_mlp_only(factories, wine_npz):
    path, _ = wine_npz
    base = dict(dataset="file", data_path=str(path), xor=False, epochs=2, repeats=1)
    with pytest.raises(JaxinterInputError, match=r"expected a jaxinter.models.MLP \(Linen\), "
                                                 r"got Small"):
        run_correlations(CorrelationsConfig(model_factory=f"{factories}:nnx_small", **base))
    study = run_correlations(CorrelationsConfig(model_factory=f"{factories}:mlp", **base))
    assert list(study.analyses) == ["quadratic"] and study.layers == ["input", "hidden_1",
                                                                     "logits"]
