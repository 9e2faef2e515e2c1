"""What the ``handloop`` command writes: one strict JSON document under ``--json`` (errors too), no TensorFlow
start-up lines unless ``-v``, the paths of the files it writes, frames for ``predict`` and published results
fetched by name."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from handloop.cli import main
from handloop.cli.console import NOISE, dumps
from handloop.zoo.published import PUBLISHED, PublishedFile, PublishedSet
from test_export import random_entry
from test_loops import SMALL

STARTUP = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers", "cuInit")


def strict_loads(text: str):
    """Parses ``text`` as one JSON document, failing on ``NaN`` / ``Infinity`` literals."""

    def reject(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def handloop(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """Runs the ``handloop`` command in a fresh process, as a user does (``TF_CPP_MIN_LOG_LEVEL`` unset)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import sys; from handloop.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """A random-weight entry on 120x160 frames: quick to export in every format."""
    return random_entry(tmp_path_factory.mktemp("zoo"), SMALL, "tiny", 5)


@pytest.fixture(scope="module")
def card640(tmp_path_factory):
    """A random-weight entry on the synthetic camera's 640x480 frames."""
    return random_entry(tmp_path_factory.mktemp("zoo640"), dataclasses.replace(SMALL, height=480, width=640),
                        "tiny", 6)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Two frames of a freshly generated synthetic shard folder, written by ``handloop data frames``."""
    root = tmp_path_factory.mktemp("frames")
    assert main(["data", "synth", "--out", str(root / "shards"), "--frames", "2", "--shard-size", "2"]) == 0
    assert main(["data", "frames", str(root / "shards"), "--out", str(root / "frames"), "--count", "2"]) == 0
    return root / "frames"


def test_strict_json_has_null_for_nan_and_plain_numbers():
    text = dumps({"a": float("nan"), "b": [np.float32(1.5), np.inf], "c": np.arange(2), "d": np.int64(3)})
    assert strict_loads(text) == {"a": None, "b": [1.5, None], "c": [0, 1], "d": 3}


def test_noise_pattern_drops_native_log_lines_only():
    assert NOISE.match(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    assert NOISE.match(b"I0000 00:00:1796207347.907897   27389 cudart_stub.cc:31] Could not find cuda drivers\n")
    assert NOISE.match(b"E0000 00:00:1733.1 123 cuda_executor.cc:1228] failed call to cuInit: UNKNOWN ERROR (303)\n")
    assert not NOISE.match(b"F0000 00:00:1.0 1 check.cc:1] Check failed\n")
    assert not NOISE.match(b"handloop predict: error: depth file not found: x.png\n")


def test_zoo_summary_is_quiet_and_verbose_shows_tensorflow():
    quiet = handloop("zoo", "summary", "synth-hand-lite")
    assert quiet.returncode == 0 and "predictor" in quiet.stdout
    assert not [line for line in quiet.stderr.splitlines() if any(s in line for s in STARTUP)], quiet.stderr
    verbose = handloop("-v", "zoo", "summary", "synth-hand-lite")
    assert verbose.returncode == 0 and "Could not find cuda drivers" in verbose.stderr


def test_bench_json_over_noisy_exports_parses_and_names_its_files(card, tmp_path):
    """The SavedModel, TFLite and ONNX converters print to the process's own stdout and stderr; the JSON stays one
    document and their chatter stays out."""
    run = handloop("bench", str(card), "--formats", "savedmodel", "tflite", "onnx", "tensorrt", "--frames", "0",
                   "--repeats", "1", "--no-paper", "--out", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    result = strict_loads(run.stdout)
    rows = {row["format"]: row for row in result["formats"]}
    assert rows["tensorrt"]["status"].startswith("skipped") and rows["tensorrt"]["latency_ms"] is None
    assert rows["tflite"]["status"] == "ok" and rows["savedmodel"]["status"] == "ok"
    for name in ("bench.csv", "bench_networks.csv", "bench.md"):
        assert f"wrote {tmp_path / name}" in run.stderr and (tmp_path / name).is_file()
    assert "Saved artifact" not in run.stderr + run.stdout and "TensorSpec" not in run.stderr


def test_json_errors_are_one_document_with_status_2(card, tmp_path, capsys):
    assert main(["predict", str(card), str(tmp_path / "missing.png"), "--json"]) == 2
    out, err = capsys.readouterr()
    assert strict_loads(out) == {"error": f"depth file not found: {tmp_path / 'missing.png'}"}
    assert "handloop predict: error: depth file not found" in err
    assert main(["zoo", "summary", "x", "--json"]) == 2  # a usage error
    out, err = capsys.readouterr()
    assert strict_loads(out) == {"error": "unrecognized arguments: --json"} and "usage:" in err


def test_data_frames_feed_the_readme_predict_command(frames, tmp_path, capsys):
    index = json.loads((frames / "frames.json").read_text())
    assert [row["depth"] for row in index] == ["frame-00000.png", "frame-00001.png"]
    depth = np.asarray(Image.open(frames / "frame-00000.png"))
    assert depth.dtype == np.uint16 and depth.shape == (480, 640) and 300 < depth[depth > 0].mean() < 1500
    truth = np.array(index[0]["joints_xyz"])
    assert truth.shape == (21, 3) and index[0]["intrinsics"] == "synth" and index[0]["joint_set"] == "msra21"
    overlay = tmp_path / "out.png"
    assert main(["predict", "synth-hand-lite", str(frames / "frame-00000.png"), "--intrinsics", "synth",
                 "--overlay", str(overlay), "--truth", str(frames / "frames.json"), "--json"]) == 0
    out, err = capsys.readouterr()
    document = strict_loads(out)
    errors = np.linalg.norm(np.array(document["joints_xyz_mm"]) - truth, axis=-1)
    assert errors.mean() < 80  # the shipped loop finds the hand (~33 mm mean)
    assert document["error_mm"] == pytest.approx({"mean": errors.mean(), "max": errors.max()}, abs=0.02)
    assert f"wrote {overlay}" in err and overlay.is_file()
    assert main(["predict", "synth-hand-lite", str(frames / "frame-00000.png"), "--truth",
                 str(frames / "frames.json")]) == 0
    assert f"error against {frames / 'frames.json'}: {errors.mean():.1f} mm mean" in capsys.readouterr().out
    unlisted = tmp_path / "other.png"
    unlisted.write_bytes((frames / "frame-00000.png").read_bytes())
    assert main(["predict", "synth-hand-lite", str(unlisted), "--truth", str(frames / "frames.json")]) == 2
    assert "lists no frame 'other.png'" in capsys.readouterr().err
    assert main(["data", "frames", str(tmp_path / "none"), "--out", str(tmp_path / "f"), "--count", "0"]) == 2
    assert "--count must be at least 1" in capsys.readouterr().err


def test_every_json_subcommand_prints_one_strict_document(card640, frames, published_source, tmp_path, monkeypatch,
                                                          capsys):
    monkeypatch.chdir(tmp_path)
    commands = {
        "zoo list": ["zoo", "list"],
        "predict": ["predict", str(card640), str(frames / "frame-00000.png"), "--intrinsics", "synth"],
        "demo": ["demo", "--name", str(card640), "--frames", "1", "--out", str(tmp_path / "demo")],
        "compare": ["compare", "--published", "nyu", "--plot", str(tmp_path / "curve.png")],
        "eval": ["eval", str(card640), "--dataset", "synth", "--root", str(frames.parent / "shards"),
                 "--labels-out", str(tmp_path / "labels.txt")],
    }
    documents = {}
    for name, argv in commands.items():
        assert main([*argv, "--json"]) == 0, name
        out, err = capsys.readouterr()
        documents[name] = strict_loads(out)
    assert documents["zoo list"][0]["name"] == "synth-hand-lite"
    assert documents["eval"]["results"] == "tiny-synth.txt" and documents["eval"]["labels"].endswith("labels.txt")
    assert [row["name"] for row in documents["compare"]] == [Path(f.name).stem for f in PUBLISHED["nyu"].results]


def test_commands_print_the_files_they_write(card640, frames, published_source, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--name", str(card640), "--frames", "1"]) == 0
    assert f"wrote {os.path.join('demo', 'iterations.png')}" in capsys.readouterr().out
    assert (tmp_path / "demo" / "iterations.png").is_file()
    assert main(["eval", str(card640), "--dataset", "synth", "--root", str(frames.parent / "shards"), "--labels-out",
                 "truth.txt"]) == 0
    out = capsys.readouterr().out
    assert "wrote tiny-synth.txt" in out and "wrote truth.txt" in out
    assert main(["compare", "--dataset", "synth", "--labels", "truth.txt", "tiny-synth.txt", "--plot", "c.png"]) == 0
    assert "wrote c.png" in capsys.readouterr().out and (tmp_path / "c.png").is_file()


def test_compare_published_downloads_checks_and_names_missing_files(published_source, tmp_path, monkeypatch,
                                                                    capsys):
    assert main(["compare", "--published", "nyu", "--json"]) == 0
    rows = {row["name"]: row for row in strict_loads(capsys.readouterr().out)}
    assert rows["TPAMI19_NYU_Generalized_Feedback"]["mean_mm"] == pytest.approx(10.89, abs=0.01)
    cached = published_source / "published" / "nyu"
    assert sorted(p.name for p in cached.iterdir()) == sorted(
        [PUBLISHED["nyu"].labels.name, *(f.name for f in PUBLISHED["nyu"].results)])
    labels = str(cached / PUBLISHED["nyu"].labels.name)
    assert main(["compare", "--dataset", "nyu", "--labels", labels, str(tmp_path / "mine.txt")]) == 2
    assert f"result file not found: {tmp_path / 'mine.txt'}" in capsys.readouterr().err
    assert main(["compare", "--dataset", "nyu", "--labels", str(tmp_path / "truth.txt"), labels]) == 2
    assert f"label file not found: {tmp_path / 'truth.txt'}" in capsys.readouterr().err

    (cached / PUBLISHED["nyu"].labels.name).write_text("tampered")  # a bad cached copy is fetched again
    assert main(["compare", "--published", "nyu"]) == 0
    assert f"downloading {os.environ['HANDLOOP_PUBLISHED_URL']}groundtruth/nyu/" in capsys.readouterr().err
    wrong = PublishedFile(PUBLISHED["nyu"].labels.path, "0" * 64)
    monkeypatch.setitem(PUBLISHED, "nyu", PublishedSet(wrong, PUBLISHED["nyu"].results))
    assert main(["compare", "--published", "nyu"]) == 2
    assert "does not match its SHA-256 " + "0" * 64 in capsys.readouterr().err
    assert (cached / wrong.name).stat().st_size > 1_000_000  # the failed download replaced nothing
    monkeypatch.setenv("HANDLOOP_CACHE", str(tmp_path / "other"))
    monkeypatch.setenv("HANDLOOP_PUBLISHED_URL", "http://127.0.0.1:9/")  # nothing listens on the discard port
    assert main(["compare", "--published", "nyu", "--json"]) == 2
    out, err = capsys.readouterr()
    assert strict_loads(out)["error"].startswith("could not download http://127.0.0.1:9/groundtruth/nyu/")
    assert not (tmp_path / "other" / "published" / "nyu" / wrong.name).exists()
