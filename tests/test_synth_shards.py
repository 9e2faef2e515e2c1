"""SynthHands shards: same settings give the same bytes (those pinned below), other settings are refused, a killed
run resumes."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handloop.recipes.synth.generate import SynthSettings, generate, part_shards, prepare_directory

REPO = Path(__file__).resolve().parents[1]


def test_same_settings_same_bytes_and_other_settings_refused(tmp_path):
    settings = SynthSettings(frames=8, seed=5, objects="mixed", shard_size=4)
    a, b = generate(settings, tmp_path / "a", progress=False), generate(settings, tmp_path / "b", progress=False)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    other = generate(SynthSettings(frames=8, seed=6, objects="mixed", shard_size=4), tmp_path / "c", progress=False)
    assert a[0].read_bytes() != other[0].read_bytes()
    with pytest.raises(ValueError, match="other settings"):
        prepare_directory(SynthSettings(frames=8, seed=6, objects="mixed", shard_size=4), tmp_path / "a")
    with pytest.raises(ValueError, match="objects: 'cups' is not one of"):
        SynthSettings(frames=8, seed=0, objects="cups")


@pytest.mark.parametrize("objects, sha256", [
    ("none", "b07e213ac7a01eeb862fde2fd416ecb2f8afd824ac4973f87f9423ccec498446"),
    ("cylinder", "ad39bbd95aac5e979ab9dedff02ae3f88569b51949b0e8b998ed37af0631b931"),
])
def test_shard_bytes_are_pinned(tmp_path, objects, sha256):
    """A change meant to make the generator faster must keep its bytes: these hashes are those of the generator
    before the issue-17b speed-ups (CPU, TensorFlow 2.21, Pillow 13). A change of the sampling, the rendering or the
    encoding changes them on purpose (update them then); a TensorFlow, Pillow (zlib) or numpy upgrade may too."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("the pinned bytes are those of the caster compiled for the CPU")
    [path] = generate(SynthSettings(frames=4, seed=5, objects=objects, shard_size=4), tmp_path, progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_killed_run_resumes_to_the_same_bytes_with_any_worker_count(tmp_path):
    args = ["--frames", "24", "--objects", "cuboid", "--seed", "2", "--shard-size", "2"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    code = "import sys; from handloop.cli import main; sys.exit(main(sys.argv[1:]))"
    killed = tmp_path / "killed"
    process = subprocess.Popen([sys.executable, "-c", code, "data", "synth", "--out", str(killed), *args],
                               cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(killed.glob("shard-*")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = sorted(killed.glob("shard-*"))
    assert 0 < len(done) < 12, "the run should have been killed part-way"
    first = {p.name: p.stat().st_mtime_ns for p in done}
    settings = SynthSettings(frames=24, seed=2, objects="cuboid", shard_size=2)
    resumed = generate(settings, killed, workers=2, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in done} == first, "finished shards must not be rewritten"
    whole = generate(settings, tmp_path / "whole", progress=False)
    assert [p.read_bytes() for p in resumed] == [p.read_bytes() for p in whole]
    assert sorted(p.name for p in killed.iterdir()) == sorted(p.name for p in (tmp_path / "whole").iterdir())


def test_hosts_writing_parts_into_one_folder_make_the_whole_data_set(tmp_path):
    """Two processes at once, ``--shards 0:2`` and ``--worker 1 --workers-total 2`` (shards 1 and 3), then
    ``--shards 2:4`` for what is left: the folder equals a single run byte for byte, manifest included."""
    args = ["--frames", "7", "--objects", "mixed", "--seed", "3", "--shard-size", "2"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    code = "import sys; from handloop.cli import main; sys.exit(main(sys.argv[1:]))"
    shared = tmp_path / "shared"
    parts = [["--shards", "0:2"], ["--worker", "1", "--workers-total", "2"]]
    processes = [subprocess.Popen([sys.executable, "-c", code, "data", "synth", "--out", str(shared), *args, *part],
                                  cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for part in parts]
    try:
        outputs = [p.communicate(timeout=120)[0].decode() for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert sorted(p.name for p in shared.glob("shard-*")) == [f"shard-0000{i}-of-00004.tfrecord" for i in (0, 1, 3)]
    settings = SynthSettings(frames=7, seed=3, objects="mixed", shard_size=2)
    generate(settings, shared, progress=False, only=part_shards(settings, "2:4"))
    whole = tmp_path / "whole"
    generate(settings, whole, progress=False)
    assert sorted(p.name for p in shared.iterdir()) == sorted(p.name for p in whole.iterdir())
    assert all((shared / p.name).read_bytes() == p.read_bytes() for p in whole.iterdir())


@pytest.mark.parametrize("shards, worker, total, message", [
    ("2:1", None, None, "must be I:J with 0 <= I < J <= 4"), ("0:5", None, None, "must be I:J"),
    (None, 2, 2, "--worker must be in 0..1"), (None, 0, None, "go together"), ("0:1", 0, 2, "not both")])
def test_bad_parts_are_named(shards, worker, total, message):
    with pytest.raises(ValueError, match=message):
        part_shards(SynthSettings(frames=8, seed=0, shard_size=2), shards, worker, total)
