"""Writes never destroy what the tool did not create: existing outputs are refused without --force, temporaries
are private folders no planted link redirects, and a killed write's leftovers go with the next write."""

import os
import socket
import subprocess
import sys
import tempfile

import pytest
from test_export import random_entry
from test_loops import SMALL

from handloop.cli import main
from handloop.zoo.fileio import TEMP_PREFIX, atomic_path, write_text


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    return random_entry(tmp_path_factory.mktemp("zoo"), SMALL, "tiny", 3)


def _existing(tmp_path, kind):
    """A user's file or folder (holding a file) at ``tmp_path/out``; returns its path."""
    path = tmp_path / "out"
    if kind == "folder":
        path.mkdir()
        (path / "mine.txt").write_text("precious")
    else:
        path.write_text("precious")
    return path


COMMANDS = {  # argv with OUT for the existing output; each is refused before it reads anything else
    "export-savedmodel": ["export", "CARD", "--format", "savedmodel", "--out", "OUT"],
    "export-onnx": ["export", "CARD", "--format", "onnx", "--out", "OUT"],
    "compare-plot": ["compare", "missing.txt", "--dataset", "nyu", "--labels", "missing.txt", "--plot", "OUT"],
    "predict-overlay": ["predict", "CARD", "missing.png", "--overlay", "OUT"],
    "data-show": ["data", "show", "missing", "--out", "OUT"],
    "eval-out": ["eval", "CARD", "--dataset", "synth", "--root", "missing", "--out", "OUT"],
    "eval-labels": ["eval", "CARD", "--dataset", "synth", "--root", "missing", "--out", "new.txt", "--labels-out",
                    "OUT"],
}


@pytest.mark.parametrize("kind", ["file", "folder"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_existing_output_is_refused_without_force(command, kind, card, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = _existing(tmp_path, kind)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = [{"OUT": str(out), "CARD": str(card)}.get(arg, arg) for arg in COMMANDS[command]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{out} exists ({kind}): pass --force" in err and "Traceback" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    assert (out / "mine.txt" if kind == "folder" else out).read_text() == "precious"


FOLDER_COMMANDS = {  # commands writing fixed names into the folder OUT: argv and the name already there
    "demo": (["demo", "--name", "CARD", "--frames", "1", "--out", "OUT"], "iterations.png"),
    "data-frames": (["data", "frames", "missing", "--out", "OUT", "--count", "2"], "frame-00001.png"),
    "bench": (["bench", "CARD", "--out", "OUT"], "bench.md"),
}


@pytest.mark.parametrize("command", sorted(FOLDER_COMMANDS))
def test_a_file_of_the_same_name_in_an_output_folder_is_refused_without_force(command, card, tmp_path, capsys):
    argv, name = FOLDER_COMMANDS[command]
    out = tmp_path / "out"
    out.mkdir()
    (out / name).write_text("precious")
    assert main([{"OUT": str(out), "CARD": str(card)}.get(arg, arg) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert f"{out / name} exists (file): pass --force" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == [name] and (out / name).read_text() == "precious"


def test_force_replaces_a_savedmodel_folder(card, tmp_path, capsys):
    out = _existing(tmp_path, "folder")
    assert main(["export", str(card), "--format", "savedmodel", "--out", str(out), "--force"]) == 0
    assert (out / "saved_model.pb").is_file() and not (out / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary left


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_planted_links_at_temporary_names_are_not_followed(kind, tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data").write_text("precious")
    target = tmp_path / "out" / "result.png"
    target.parent.mkdir()
    planted = [target.with_name(f".tmp{os.getpid()}.{target.name}"),  # the old, predictable name
               target.parent / f"{TEMP_PREFIX}{os.getpid()}@{socket.gethostname()}-planted"]  # the name mkdtemp is made to draw first
    for link in planted:
        link.symlink_to(victim / "data" if kind == "file" else victim)
    names = iter(["planted", "fresh123"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: names)
    with atomic_path(target) as tmp:
        assert tmp.parent.name == f"{TEMP_PREFIX}{os.getpid()}@{socket.gethostname()}-fresh123" and not tmp.parent.is_symlink()
        if kind == "file":
            tmp.write_text("new")
        else:
            tmp.mkdir()
            (tmp / "data").write_text("new")
    assert (victim / "data").read_text() == "precious" and sorted(p.name for p in victim.iterdir()) == ["data"]
    assert all(link.is_symlink() for link in planted)  # left alone, not followed by the clean-up either
    assert (target.read_text() if kind == "file" else (target / "data").read_text()) == "new"


def test_a_killed_writes_leftovers_are_removed_by_the_next_write(tmp_path):
    killed = subprocess.run([sys.executable, "-c", f"""
import os
from handloop.zoo.fileio import atomic_path
with atomic_path({str(tmp_path / 'a.txt')!r}) as tmp:
    tmp.write_text('half')
    os._exit(9)
"""], capture_output=True, text=True)
    assert killed.returncode == 9, killed.stderr
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert len(leftovers) == 1 and not (tmp_path / "a.txt").exists()
    dead_link = tmp_path / f"{TEMP_PREFIX}{killed_pid(leftovers[0])}-link"
    dead_link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep").write_text("precious")
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-live"  # a write still running in this process
    live.mkdir()
    elsewhere = tmp_path / f"{TEMP_PREFIX}{killed_pid(leftovers[0])}@another-host-x1"  # its pid means nothing here
    elsewhere.mkdir()
    write_text(tmp_path / "b.txt", "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["b.txt", dead_link.name, live.name, elsewhere.name,
                                                                  "elsewhere"])
    assert (tmp_path / "elsewhere" / "keep").read_text() == "precious"


def killed_pid(leftover) -> int:
    """The process id in a temporary folder's name ``.handloop-tmp-<pid>@<host>-<random>``."""
    return int(leftover.name[len(TEMP_PREFIX):].split("@")[0])
