"""The tree checks itself: every Python file (subfolders too) compiles with warnings as errors; every `python -m`
and every file path that the docs, code and recipes name exists; every Markdown link and #anchor resolves (GitHub's
heading slugs); every image in docs/images is shown by some Markdown file."""
import re
import unicodedata
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("minbert", "analysis", "bench", "tests")  # the folders of Python source; app.py and any other at the top
SOURCES = sorted([*ROOT.glob("*.py"), *(p for d in PACKAGES for p in (ROOT / d).rglob("*.py"))])
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
TEXTS = [*SOURCES, *DOCS, *(ROOT / "minbert").rglob("*.yaml")]  # where commands and file paths are named
IMAGES = ROOT / "docs" / "images"


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_sources_include_subfolders():
    assert {rel(p) for p in SOURCES} >= {"app.py", "minbert/train/loop.py", "analysis/studio/service.py",
                                         "analysis/experiments/runner.py", "minbert/data/fetch.py"}


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_compiles_without_warnings(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 3.11: DeprecationWarning, 3.12: SyntaxWarning; either becomes SyntaxError
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


# --- `python -m NAME`: NAME is ours and exists ------------------------------------------------------------------
MODULE = re.compile(rf"python -m ((?:{'|'.join(PACKAGES)})(?:\.[a-z_0-9]+)*)(?![\w.])")  # `analysis.NAME` is prose


def runnable(name: str) -> bool:
    """Whether `python -m name` finds something to run in this tree: name.py, or a package with __main__.py."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()


def test_every_python_m_names_a_runnable_module():
    named = {(rel(f), m) for f in TEXTS for m in MODULE.findall(f.read_text(encoding="utf-8"))}
    assert len({m for _, m in named}) > 20  # the pattern still finds the commands
    assert [(f, m) for f, m in sorted(named) if not runnable(m)] == []


def test_runnable_tells_a_module_from_a_missing_one():
    assert runnable("minbert.train") and runnable("minbert.predict") and runnable("analysis.experiments.levers")
    assert not runnable("minbert.ship") and not runnable("analysis") and not runnable("minbert.train.recipes")


# --- file paths: `minbert/data/fetch.py` names a file that exists -----------------------------------------------
PATH = re.compile(rf"(?<![\w/.~$-])((?:{'|'.join(PACKAGES)})/[\w/]+\.(?:py|yaml))\b")
GONE = {"minbert/hard_negatives.py": "docs/EXPERIMENTS.md says where a retired lever's code lived"}


def test_every_file_path_named_exists():
    named = {(rel(f), p) for f in TEXTS for p in PATH.findall(f.read_text(encoding="utf-8"))}
    assert PATH.findall("(see minbert/data/fetch.py).") == ["minbert/data/fetch.py"]
    assert not PATH.findall("~/.cache/minbert/a.py")  # a user's file, not ours
    assert len(named) > 25
    assert [(f, p) for f, p in sorted(named) if not (ROOT / p).is_file() and p not in GONE] == []
    assert set(GONE) <= {p for _, p in named}  # an exception nothing names any more goes too


# --- Markdown links and anchors ---------------------------------------------------------------------------------
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")  # [text](target): links, not images
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img [^>]*src=\"([^\"]+)\"")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text, lower-cased, without punctuation, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images keep their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").replace("*", "")
    kept = "".join(c for c in text.lower() if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    """Every anchor in a Markdown file: its headings' slugs (repeats get -1, -2, ...) and explicit ids."""
    seen, out, fenced = {}, set(), False
    for line in md.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        m = None if fenced else HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
        out.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line))
    return out


def test_slug_follows_github():
    assert slug("How `--quantize int8` chooses a kernel") == "how---quantize-int8-chooses-a-kernel"
    assert slug("Model history: the six shipped recipes (and the levers)") == \
        "model-history-the-six-shipped-recipes-and-the-levers"
    assert slug("lr × dropout, **mean** ± sd — [seeds](x.md)") == "lr--dropout-mean--sd--seeds"
    assert slug("Run it as a Hugging Face Space") == "run-it-as-a-hugging-face-space"


def links(md: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", md.read_text(encoding="utf-8"), flags=re.S)  # code blocks hold no links
    return [t for t in LINK.findall(re.sub(r"`[^`]*`", "", text)) if not re.match(r"[a-z]+:", t)]


@pytest.mark.parametrize("md", DOCS, ids=rel)
def test_every_link_and_anchor_resolves(md):
    dead = []
    for target in links(md):
        path, _, anchor = target.partition("#")
        dest = (md.parent / path).resolve() if path else md
        if not dest.exists():
            dead.append(f"{target}: no file {rel(dest) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            dead.append(f"{target}: no heading with that anchor in {rel(dest)}")
    assert dead == []


def test_every_image_is_shown_by_a_markdown_file():
    shown = {(md.parent / (a or b)).resolve() for md in DOCS for a, b in IMAGE.findall(md.read_text(encoding="utf-8"))}
    assert sorted(rel(p) for p in IMAGES.iterdir() if p.resolve() not in shown) == []


def test_the_training_config_path_stays_short():
    """The modules the training config reaches from fit (tests/config_path.py): issue 34's target of 16, counting a
    converted value (Path(cfg.out_dir)) as a new one; 18 following it as the config."""
    from tests.config_path import config_path
    assert len(config_path(ROOT, "no-conversions")) <= 16
    assert len(config_path(ROOT, "fields")) <= 18
