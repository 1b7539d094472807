"""The dev map: coloured by task in colours no class has (and a message saying the colour line above is for classes);
a pair task's sentence among the neighbours carries its pair's labels as the pair's."""
import pytest

from analysis.studio.theme import class_colors
from tests.app_server import CHECKPOINT

pytestmark = pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")


def rgb(h: str) -> tuple[int, ...]:
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture(scope="module")
def studio():
    from analysis.studio.service import Studio
    s = Studio(CHECKPOINT, offline=True)
    if s.map_available():
        pytest.skip("no precomputed map")
    return s


def test_task_colours_are_no_class_colour_and_the_message_says_so(studio):
    keys = [t.key for t in studio.map_tasks()]
    msg, ft, base, _ = studio.maps("task", keys)
    colours = {tr.name: tr.marker.color for tr in ft.data}
    assert set(colours) == {studio.tasks[k].name for k in keys} and len(set(colours.values())) == len(keys)
    classes = [c for k in keys for c in class_colors(studio.tasks[k])]
    for name, c in colours.items():  # plain RGB distance: Quora's task colour was its "not duplicate" orange
        near = min(sum((a - b) ** 2 for a, b in zip(rgb(c), rgb(k))) ** 0.5 for k in classes)
        assert near > 60, (name, c, near)
    assert "Coloured by task" in msg and "class colours" in msg
    assert "Coloured by" not in studio.maps("gold label", keys)[0]


def test_a_pair_task_neighbour_carries_its_pairs_labels_as_the_pairs(studio):
    """A Quora question near the user's sentence is one half of a pair: 'duplicate' is said of the pair."""
    from analysis import embedding_map
    points = studio.results.data["map"]["points"]
    pair = {k for k, t in studio.tasks.items() if t.pair}
    picks = [i for i, (t, _, _) in enumerate(points) if t in pair][:3] + \
            [i for i, (t, _, _) in enumerate(points) if t not in pair][:2]
    assert len(picks) == 5
    rows = embedding_map.neighbour_rows(studio.results, studio.tasks, [(i, 0.5) for i in picks])
    for i, row in zip(picks, rows):
        task = studio.tasks[points[i][0]]
        assert row[1] == task.name
        assert all(cell.startswith("pair: ") == task.pair for cell in row[2:4]), row
