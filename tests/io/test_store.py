"""Report pages, saved pytrees, resumable stage caches and progress lines."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from jaxinter.io import (  # noqa: E402
    Progress,
    Section,
    StageCache,
    Table,
    load_tree,
    progress,
    save_json,
    save_tree,
    write_report,
)

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Records the element nesting errors, text, image sources and external references."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.text, self.images, self.external = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            if key in attrs and not attrs[key].startswith("data:"):
                self.external.append(attrs[key])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.errors.append(f"self-closing <{tag}/> in an HTML page")
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unbalanced </{tag}>")

    def handle_data(self, data):
        self.text.append(data)


def test_report_is_a_valid_self_contained_page(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = tmp_path / "line.png"
    fig.savefig(png)
    plt.close(fig)
    summary = {"r": np.float32(-0.99), "per_order": jnp.arange(3.0), "bad": float("nan"),
               "nested": {"inf": np.inf, "ok": (1, 2)}}
    sections = [Section("Fit <ln D>", "He & Su: r < -0.99.\n\nSecond paragraph.", [png],
                        [Table("D by layer", ["layer", "D"], [[0, 1.234567], ["<1>", np.nan]])])]
    path = write_report(tmp_path / "out", "A & B <test>", sections, summary, intro="a < b")
    page = path.read_text()
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert page.startswith("<!doctype html>") and not checker.errors and not checker.stack
    assert checker.external == []  # nothing outside the page
    text = "".join(checker.text)
    for plain in ["A & B <test>", "Fit <ln D>", "He & Su: r < -0.99.", "a < b", "<1>", "1.235"]:
        assert plain in text, plain
    assert page.count("<p>") == 3  # intro + two paragraphs
    (src,) = checker.images
    assert base64.b64decode(src.removeprefix("data:image/png;base64,")) == png.read_bytes()
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved == {"r": pytest.approx(-0.99), "per_order": [0.0, 1.0, 2.0], "bad": None,
                     "nested": {"inf": None, "ok": [1, 2]}}
    assert not list((tmp_path / "out").glob("*.partial"))
    with pytest.raises(ValueError, match="not a PNG"):
        write_report(tmp_path, "t", [Section("s", figures=[tmp_path / "out" / "summary.json"])],
                     {})


def test_save_and_load_tree(tmp_path):
    tree = {"w": np.arange(6.0).reshape(2, 3), "layers": [np.ones(2), np.int32(3)]}
    path = save_tree(tmp_path / "sub" / "t.npz", tree)
    like = {"w": np.zeros((2, 3)), "layers": [np.zeros(2), np.int32(0)]}
    back = load_tree(path, like)
    np.testing.assert_array_equal(back["w"], tree["w"])
    np.testing.assert_array_equal(back["layers"][0], tree["layers"][0])
    assert int(back["layers"][1]) == 3
    save_json(tmp_path / "x.json", {"a": np.float64(1.5)})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1.5}
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["sub", "t.npz", "x.json"]


def test_load_tree_detects_damage(tmp_path):
    """A saved pytree carries a checksum: a flipped bit (or a truncated file) is an error naming
    the file, never silently wrong weights."""
    w = np.arange(8.0) + 0.5
    path = save_tree(tmp_path / "t.npz", {"w": w})
    original = path.read_bytes()
    _flip_one_bit_in_array_data(path, w)
    with pytest.raises(ValueError, match=r"^path: .*t\.npz (fails its checksum|is unreadable)"):
        load_tree(path, {"w": np.zeros(8)})
    path.write_bytes(original[:-30])
    with pytest.raises(ValueError, match=r"^path: .*t\.npz is unreadable"):
        load_tree(path, {"w": np.zeros(8)})
    path.write_bytes(original)
    np.testing.assert_array_equal(load_tree(path, {"w": np.zeros(8)})["w"], w)


def test_stage_cache_resumes_and_survives_interruption(tmp_path):
    folder = tmp_path / "cache"
    cache = StageCache(folder, {"n": 10, "lr": 0.1})
    assert cache.get("layer_0") is None
    cache.put("layer_0", {"v": np.arange(4.0)})
    # a killed put leaves only a temporary file; it is ignored and cleaned up on reopen
    (folder / "layer_1.npz.partial").write_bytes(b"PK\x03\x04half")
    # a stage truncated by a crash of the machine counts as missing
    (folder / "layer_2.npz").write_bytes(b"PK\x03\x04trunc")
    again = StageCache(folder, {"lr": 0.1, "n": 10})  # same config, other key order
    np.testing.assert_array_equal(again.get("layer_0")["v"], np.arange(4.0))
    assert again.get("layer_1") is None and again.get("layer_2") is None
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "layer_0.npz"]
    # another config never sees these stages
    other = StageCache(folder, {"n": 12, "lr": 0.1})
    assert other.get("layer_0") is None
    assert json.loads((folder / "config.json").read_text()) == {"n": 12, "lr": 0.1}
    for bad in ["../x", "a/b", "", ".hidden"]:
        with pytest.raises(ValueError, match="key"):
            other.put(bad, {"v": np.zeros(1)})


def test_stage_cache_depends_per_stage(tmp_path, monkeypatch):
    import jaxinter.io._files as files

    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "config.json").write_text('{"old": 1}')  # a whole-run stamp is left alone
    cache = StageCache(folder)
    up = {"data": "digits", "epochs": 3, "sizes": (8, 4)}
    down = {**up, "draws": 2}
    cache.put("model", {"w": np.arange(3.0)}, depends=up)
    cache.put("noise", {"v": np.ones(2)}, depends=down)
    cache.put("plain", {"v": np.zeros(1)})
    again = StageCache(folder)
    # same dependencies (other key order, tuple read back as list): reused, the stamp hidden
    got = again.get("model", {"sizes": [8, 4], "epochs": 3, "data": "digits"})
    assert list(got) == ["w"]
    np.testing.assert_array_equal(got["w"], np.arange(3.0))
    assert list(again.get("model")) == ["w"]  # no depends: no check
    # a downstream option changed: only the stage depending on it is stale
    new_down = {**up, "draws": 3}
    assert again.get("noise", new_down) is None
    assert again.get("model", up) is not None
    assert again.get("model", {**up, "epochs": 4}) is None
    assert again.get("plain", {}) is None  # saved without dependencies: never matches
    again.put("noise", {"v": np.full(3, 2.0)}, depends=new_down)
    np.testing.assert_array_equal(again.get("noise", new_down)["v"], np.full(3, 2.0))
    assert again.get("noise", down) is None
    # a put killed before its rename leaves the previous stage and its dependencies intact
    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        again.put("noise", {"v": np.zeros(5)}, depends=down)
    monkeypatch.undo()
    assert (folder / "noise.npz.partial").exists()
    reopened = StageCache(folder)
    assert reopened.get("noise", down) is None
    np.testing.assert_array_equal(reopened.get("noise", new_down)["v"], np.full(3, 2.0))
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.npz", "noise.npz",
                                                        "plain.npz"]
    assert json.loads((folder / "config.json").read_text()) == {"old": 1}
    with pytest.raises(ValueError, match="reserved"):
        reopened.put("x", {"__depends__": np.zeros(1)}, depends=up)


def _flip_one_bit_in_array_data(path, value: np.ndarray) -> None:
    """Flip one bit of ``value``'s bytes inside an uncompressed .npz (the zip stays valid)."""
    raw = bytearray(path.read_bytes())
    at = bytes(raw).index(value.tobytes())
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", ["truncated", "bit_flip", "swapped", "no_identity"])
def test_stage_cache_detects_damage_and_swaps(tmp_path, capsys, damage):
    folder = tmp_path / "cache"
    cache = StageCache(folder, label="job")
    depends = {"layer": 2, "n": 8}
    layer_2, layer_3 = np.arange(6.0) + 0.25, np.arange(6.0) + 100.5
    cache.put("layer_2", {"v": layer_2}, depends=depends)
    cache.put("layer_3", {"v": layer_3}, depends=depends)  # same options: only the key differs
    path = folder / "layer_2.npz"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-40])
    elif damage == "bit_flip":
        _flip_one_bit_in_array_data(path, layer_2)
    elif damage == "swapped":
        path.write_bytes((folder / "layer_3.npz").read_bytes())
    else:  # a stage file written without the identity record (an older version)
        np.savez(path, v=layer_2, __depends__=np.asarray(json.dumps(depends, sort_keys=True)))
    capsys.readouterr()
    calls = []
    got = StageCache(folder, label="job").get_or_compute(
        "layer_2", lambda: calls.append(1) or {"v": layer_2}, depends)
    err = capsys.readouterr().err.strip().splitlines()
    assert calls == [1]  # recomputed
    np.testing.assert_array_equal(got["v"], layer_2)
    assert len(err) == 1 and err[0].startswith("[job] layer_2: cache file ")
    assert err[0].endswith("; recomputing")
    if damage == "swapped":
        assert "holds stage 'layer_3'" in err[0]
    # the recomputed stage is stored again and reused silently afterwards
    np.testing.assert_array_equal(StageCache(folder).get("layer_2", depends)["v"], layer_2)
    np.testing.assert_array_equal(StageCache(folder).get("layer_3", depends)["v"], layer_3)
    assert "cache file" not in capsys.readouterr().err


def test_stage_cache_checksum_covers_names_dtypes_and_shapes(tmp_path):
    cache = StageCache(tmp_path)
    cache.put("a", {"v": np.arange(4, dtype=np.int32)})
    stored = dict(np.load(tmp_path / "a.npz"))
    for changed in ({"v": np.arange(4, dtype=np.int32).reshape(2, 2)},
                    {"v": np.arange(4, dtype=np.uint32)}, {"w": np.arange(4, dtype=np.int32)}):
        np.savez(tmp_path / "a.npz", **changed, __identity__=stored["__identity__"])
        assert cache.get("a") is None and not (tmp_path / "a.npz").exists()
        cache.put("a", {"v": np.arange(4, dtype=np.int32)})
        stored = dict(np.load(tmp_path / "a.npz"))
    with pytest.raises(ValueError, match="reserved"):
        cache.put("x", {"__identity__": np.zeros(1)})


def test_progress_lines():
    """Off a terminal: one line when a stage starts and one when it ends, with the counts."""
    stream = io.StringIO()
    assert list(progress(range(3), "fit", stream=stream)) == [0, 1, 2]
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[fit] start: 0/3 its done"
    assert re.fullmatch(r"\[fit\] done: 3/3 its in [\d.]+s", lines[1]) and len(lines) == 2
    stream = io.StringIO()
    list(progress(iter("ab"), "gen", stream=stream))  # unknown length: no total
    assert re.fullmatch(r"\[gen\] done: 2 its in [\d.]+s", stream.getvalue().splitlines()[-1])
    stream = io.StringIO()
    with Progress("train", 10, unit="step", initial=4, stream=stream) as bar:
        bar.update(6, loss=0.25)
    assert re.fullmatch(r"\[train\] done: 10/10 steps in [\d.]+s, loss 0.25",
                        stream.getvalue().splitlines()[-1])


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal():
    """On a terminal: a live tqdm bar with the count, rate, ETA and the latest metrics."""
    stream = _Terminal()
    with Progress("train", 4, unit="step", stream=stream) as bar:
        for _ in range(4):
            bar.update(1, loss=0.5)
    shown = stream.getvalue()
    assert "\r" in shown and "train" in shown and "4/4" in shown and "step/s" in shown
    assert "loss=0.5" in shown and "<00:00" in shown  # rate and ETA columns of tqdm


def test_labeled_arrays_round_trip_through_json():
    from jaxinter.io import is_labeled, labeled, labeled_array, labeled_frame_rows

    values = np.arange(12.0).reshape(2, 3, 2)
    values[1, 2, 0] = np.nan
    obj = json.loads(json.dumps(labeled(values, ("layer", "order", "type"),
                                        {"layer": ["h1", "output"], "type": ["AND", "OR"]},
                                        "strength")))
    assert is_labeled(obj) and obj["description"] == "strength"
    back, axes, coords = labeled_array(obj)
    np.testing.assert_array_equal(back, values)  # NaN written as null, read back as NaN
    assert axes == ["layer", "order", "type"] and coords["layer"] == ["h1", "output"]
    rows = labeled_frame_rows(obj)
    assert len(rows) == 12
    assert rows[3] == {"layer": "h1", "order": 1, "type": "OR", "value": 3.0}
    with pytest.raises(ValueError, match="labels for axis 'layer'"):
        labeled(values, ("layer", "order", "type"), {"layer": ["h1"]})
    with pytest.raises(ValueError, match="2 names for an array of 3"):
        labeled(values, ("layer", "order"))
