"""The registry (hash check, errors), the inference API and the predict / zoo commands."""

import json

import numpy as np
import pytest
from PIL import Image

from test_loops import SMALL
from handloop.cli import main
from handloop.zoo.loops import build_hand_loop
from handloop.zoo.preprocess import NoHandError
from handloop.zoo.registry import RegistryError, load, save_entry

INTRINSICS = "120,120,80,60"


@pytest.fixture(scope="module")
def entry(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(2)
    loop = build_hand_loop(SMALL)
    folder = tmp_path_factory.mktemp("zoo")
    return loop, save_entry(loop, SMALL, "tiny", {"mean_mm": 12.3}, folder), folder


def hand_frame():
    depth = np.zeros((120, 160), np.float32)
    depth[40:70, 60:84] = 400
    depth[65:100, 70:80] = 410
    return depth


def test_load_predicts_like_the_saved_loop(entry):
    loop, card, folder = entry
    model = load(folder / "tiny.json")
    depth = hand_frame()
    result = model.predict(depth, INTRINSICS)
    assert result.joints_xyz.shape == (21, 3) and result.iterations_xyz.shape == (3, 21, 3)
    reference = loop({"depth": depth[None, ..., None], "intrinsics": np.array([[120, 120, 80, 60]], np.float32)})
    # float16 storage: same pose within a fraction of a pixel
    assert np.abs(np.asarray(reference["joints_uvd"])[0] - result.joints_uvd).max() < 0.5
    batch = model.predict(np.stack([depth, depth]), INTRINSICS)
    np.testing.assert_allclose(batch.joints_xyz[0], result.joints_xyz, atol=1e-4)
    assert card.size_mb < 1.0


def test_y_up_cameras_flip_y(entry):
    _, _, folder = entry
    model = load(folder / "tiny.json")
    from handloop.zoo.camera import Intrinsics

    down = model.predict(hand_frame(), Intrinsics("d", 120, 120, 80, 60, 160, 120, y_up=False))
    up = model.predict(hand_frame(), Intrinsics("u", 120, 120, 80, 60, 160, 120, y_up=True))
    np.testing.assert_allclose(up.joints_xyz[:, 1], -down.joints_xyz[:, 1], atol=1e-3)
    np.testing.assert_allclose(up.joints_uvd, down.joints_uvd, atol=1e-3)


def test_bad_input_errors(entry):
    _, _, folder = entry
    model = load(folder / "tiny.json")
    with pytest.raises(NoHandError, match="no hand found"):
        model.predict(np.zeros((120, 160)), INTRINSICS)
    specks = np.zeros((120, 160))
    specks[1::2, 1::2] = 500.0  # only pixels the detection skips (it reads every com_stride-th row and column)
    assert model.config.com_stride == 2
    with pytest.raises(NoHandError, match="no hand found"):
        model.predict(specks, INTRINSICS)
    with pytest.raises(ValueError, match="expected depth frames of shape"):
        model.predict(np.zeros((100, 100)), INTRINSICS)
    bad = hand_frame()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad, INTRINSICS)


def test_tampered_missing_and_unknown(entry, tmp_path):
    _, _, folder = entry
    tampered = tmp_path / "zoo"
    tampered.mkdir()
    for name in ("tiny.json", "tiny.weights.h5"):
        (tampered / name).write_bytes((folder / name).read_bytes())
    data = bytearray((tampered / "tiny.weights.h5").read_bytes())
    data[-100] ^= 0xFF
    (tampered / "tiny.weights.h5").write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="SHA-256 does not match"):
        load(tampered / "tiny.json")
    (tampered / "tiny.weights.h5").unlink()
    with pytest.raises(FileNotFoundError, match="weights of zoo entry 'tiny' not found"):
        load(tampered / "tiny.json")
    with pytest.raises(RegistryError, match="unknown zoo entry 'nope'"):
        load("nope")
    (tampered / "broken.json").write_text("{not json")
    with pytest.raises(RegistryError, match="not a valid zoo entry card"):
        load(tampered / "broken.json")


def test_config_weights_mismatch(entry, tmp_path):
    _, _, folder = entry
    card = json.loads((folder / "tiny.json").read_text())
    card["config"]["updater"]["dense"] = [64]
    (tmp_path / "tiny.weights.h5").write_bytes((folder / "tiny.weights.h5").read_bytes())
    (tmp_path / "tiny.json").write_text(json.dumps(card))
    with pytest.raises(RegistryError, match="does not fit the config"):
        load(tmp_path / "tiny.json")


def test_predictor_only_entry_has_no_updater_and_refuses_iterations(tmp_path):
    import dataclasses

    from handloop.zoo.loops import network_names

    config = dataclasses.replace(SMALL, iterations=0)
    assert network_names(config) == ("localizer", "predictor", "synthesizer")
    loop = build_hand_loop(config)
    assert "updater" not in [layer.name for layer in loop.layers]
    save_entry(loop, config, "predictor-only", {"mean_mm": 20.0}, tmp_path)
    result = load(tmp_path / "predictor-only.json").predict(hand_frame(), INTRINSICS)
    assert result.iterations_xyz.shape == (1, 21, 3)
    with pytest.raises(RegistryError, match="'predictor-only' is predictor-only .*iterations 0, not 2"):
        load(tmp_path / "predictor-only.json", 2)


def test_predict_cli(entry, tmp_path, capsys):
    _, _, folder = entry
    png = tmp_path / "frame.png"
    Image.fromarray(hand_frame().astype(np.uint16)).save(png)
    card = str(folder / "tiny.json")
    overlay = tmp_path / "overlay.png"
    assert main(["predict", card, str(png), "--intrinsics", INTRINSICS, "--json", "--overlay", str(overlay)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert np.array(out["joints_xyz_mm"]).shape == (21, 3) and out["joint_set"] == "msra21"
    assert overlay.read_bytes()[:4] == b"\x89PNG"
    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((120, 160), np.float32))
    assert main(["predict", card, str(empty), "--intrinsics", INTRINSICS]) == 2
    assert "no hand found" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really")
    assert main(["predict", card, str(corrupt)]) == 2
    assert "not a readable PNG" in capsys.readouterr().err
    assert main(["predict", card, str(tmp_path / "missing.png")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["zoo", "summary", card]) == 0
    assert "updater" in capsys.readouterr().out


def test_zoo_list_json(capsys):
    assert main(["zoo", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list)
    for row in rows:
        assert {"name", "size_mb", "mean_mm", "object"} <= row.keys()
    by_name = {row["name"]: row for row in rows}
    assert by_name["synth-hand-object-lite"]["object"] == "cuboid-large" and by_name["synth-hand-lite"]["object"] is None


def test_zoo_list_table_marks_what_an_entry_lacks(capsys):
    """A hand entry has no object columns: the table shows ``-`` there, never ``NaN`` or ``None``."""
    assert main(["zoo", "list"]) == 0
    out = capsys.readouterr().out
    assert "NaN" not in out and "None" not in out
    hand = next(line for line in out.splitlines() if line.split()[0] == "synth-hand-lite")
    assert "cuboid-large" not in hand and " - " in hand
    assert "cuboid-large" in next(line for line in out.splitlines() if line.split()[0] == "synth-hand-object-lite")
