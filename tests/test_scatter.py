"""SVG for small scatter plots, WebGL only for big maps (analysis.studio.scatter): each WebGL figure holds browser
contexts, of which a page keeps about 16, so the few-thousand-point plots draw in SVG."""
import json

import pytest

from analysis.embedding_map import map_figure
from analysis.results import load_results
from analysis.studio import errors_view
from analysis.studio.scatter import WEBGL_MIN_POINTS, scatter_class
from minbert.tasks import STS, TASKS
from tests.app_server import CHECKPOINT


@pytest.fixture(scope="module")
def results():
    if not CHECKPOINT.with_suffix(".json").exists():
        pytest.skip("no shipped checkpoint")
    sha = json.loads(CHECKPOINT.with_suffix(".json").read_text())["weights_sha256"]
    res = load_results(CHECKPOINT, None, sha)
    if res is None:
        pytest.skip("no precomputed dev results")
    return res


def test_the_threshold():
    assert scatter_class(WEBGL_MIN_POINTS - 1).__name__ == "Scatter"
    assert scatter_class(WEBGL_MIN_POINTS).__name__ == "Scattergl"


def test_small_plots_are_svg_and_only_a_big_map_uses_webgl(results):
    points = [t for t, _, _ in results.data["map"]["points"]]
    sst = map_figure(results, TASKS, "finetuned", "gold label", ["sst"])
    assert points.count("sst") < WEBGL_MIN_POINTS and {t.type for t in sst.data} == {"scatter"}
    every = map_figure(results, TASKS, "finetuned", "task", ["sst", "sts", "para"], new_point=(0.0, 0.0))
    assert len(points) >= WEBGL_MIN_POINTS
    assert {t.type for t in every.data} == {"scattergl"}  # the star too: one kind, so it is drawn over the points
    assert every.data[-1].name == "★ your sentence"
    scatter, _ = errors_view.score_figures(STS, results.data["predictions"])
    assert {t.type for t in scatter.data} == {"scatter"}  # 863 STS-B dev pairs and the diagonal


def test_a_few_score_points_are_drawn_large_and_solid_and_the_dev_set_small(results):
    """A user's 5-pair STS file drew five faint 5 px dots; the 863 dev pairs keep small see-through ones."""
    dev, _ = errors_view.score_figures(STS, results.data["predictions"])
    few = {"sts": {"ids": list("abcde"), "gold": [0.0, 1.2, 2.5, 3.8, 5.0], "score": [0.4, 1.0, 2.9, 3.1, 4.6]}}
    small, _ = errors_view.score_figures(STS, few)
    assert len(small.data[0].x) == 5 and list(small.data[0].y) == few["sts"]["score"]
    assert small.data[0].marker.size >= 8 and small.data[0].marker.opacity >= 0.8
    assert len(dev.data[0].x) == 863 and dev.data[0].marker.size == 5 and dev.data[0].marker.opacity == 0.5
