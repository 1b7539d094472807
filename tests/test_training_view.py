"""The Training tab's figures drawn from a checkpoint sidecar."""
from analysis.studio.training_view import overfitting_figure
from minbert.tasks import TASKS


def test_train_vs_dev_has_one_colour_per_split_in_every_panel():
    """The legend is drawn from the first panel only: the other panels' lines must wear the same two colours."""
    hist = [{"epoch": e, "train": {t.metric: 0.5 + 0.1 * e for t in TASKS.values()},
             "dev": {t.metric: 0.4 for t in TASKS.values()}} for e in (1, 2)]
    fig = overfitting_figure({"history": hist}, TASKS)
    assert len(fig.data) == 2 * len(TASKS)
    colours = {split: {t.line.color for t in fig.data if t.name == split} for split in ("train", "dev")}
    assert all(len(c) == 1 and None not in c for c in colours.values()), colours
    assert colours["train"] != colours["dev"]
    assert sorted(t.name for t in fig.data if t.showlegend) == ["dev", "train"]
