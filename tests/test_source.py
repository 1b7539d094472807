"""Every Python file compiles with warnings as errors: Python 3.12 prints invalid escapes at every import."""
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([ROOT / "app.py", *(p for d in ("minbert", "analysis", "bench", "tests")
                                     for p in (ROOT / d).glob("*.py"))])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_compiles_without_warnings(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 3.11: DeprecationWarning, 3.12: SyntaxWarning; either becomes SyntaxError
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
