"""The package's shape: one import name (``handloop``), layers that only import downwards, every folder shipped."""

import configparser
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("zoo", "recipes", "export", "cli")
"""handloop's subpackages from the core up: each may import only those before it."""


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_layers_import_only_downwards(layer, tmp_path):
    above = [f"handloop.{name}" for name in LAYERS[LAYERS.index(layer) + 1:]]
    result = run_python(f"""
        import importlib, pkgutil, sys
        import handloop.{layer} as package
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
        print(sorted(m for m in sys.modules if m.split(".")[:2] in [a.split(".") for a in {above}]))
        """, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]", f"handloop.{layer} imports {result.stdout}"


def test_only_handloop_is_importable_and_user_modules_do_not_shadow_it(tmp_path):
    (tmp_path / "export.py").write_text("raise RuntimeError('the user export.py was imported')\n")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "__init__.py").write_text("raise RuntimeError('the user recipes/ was imported')\n")
    for name in ("zoo", "handloop.zoo.cli"):
        assert "ModuleNotFoundError" in run_python(f"import {name}", tmp_path).stderr
    result = run_python("""
        import handloop
        from handloop.recipes.config import load_recipe
        print(callable(handloop.export.load), ",".join(e.name for e in handloop.list_entries()),
              load_recipe("synth-hand-lite").name)
        """, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    loads, entries, recipe = result.stdout.split()
    assert (loads, recipe) == ("True", "synth-hand-lite") and "synth-hand-lite" in entries.split(","), result.stdout


def test_setup_lists_every_package_folder():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    folders = dict(line.split(" = ") for line in setup["options"]["package_dir"].strip().splitlines())
    assert folders == {"handloop": "handloop", "handloop.zoo": "zoo", "handloop.recipes": "recipes",
                       "handloop.export": "export"}
    found = {f"{name}.{'.'.join(init.parent.relative_to(ROOT / folder).parts)}".rstrip(".")
             for name, folder in folders.items() for init in (ROOT / folder).rglob("__init__.py")}
    code_folders = {py.parent for folder in folders.values() for py in (ROOT / folder).rglob("*.py")}
    assert all((folder / "__init__.py").is_file() for folder in code_folders), "a code folder has no __init__.py"
    assert set(setup["options"]["packages"].split()) == found
