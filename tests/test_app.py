"""The app, live on loopback, driven through gradio_client: every endpoint and the bad inputs."""
import csv
import json
import re
import subprocess
import sys

import pytest

from tests.app_server import CHECKPOINT

pytestmark = [pytest.mark.app, pytest.mark.slow,
              pytest.mark.skipif(not CHECKPOINT.with_suffix(".json").exists(), reason="no shipped checkpoint")]


@pytest.fixture(scope="module")
def studio():
    """The app's logic in-process, for the HTML that the UI shows but no API returns."""
    from analysis.studio.service import Studio
    return Studio(CHECKPOINT)


@pytest.fixture(scope="module")
def client(live_app):
    from gradio_client import Client
    return Client(live_app.url, verbose=False)


def test_starts_fast_and_small(live_app):
    assert live_app.startup_s <= 15, live_app.startup_s
    assert live_app.startup_rss_mb <= 1500


def test_sentiment_and_its_attributions(client):
    data = client.predict("A gorgeous, witty and moving film.", api_name="/sentiment")
    assert data["message"].startswith("Predicted: ") and abs(sum(data["probs"]) - 1) < 1e-4
    ex = client.predict("A gorgeous, witty and moving film.", api_name="/sentiment_explain")
    assert ex["label"] == data["label"] and ex["tokens"] == data["tokens"] and "gorgeous" in ex["tokens"]
    assert len(ex["contributions"]) == len(ex["tokens"]) and "integrated gradients" in ex["method"]
    c = ex["completeness"]  # IG's axiom: contributions sum to logit(input) - logit(baseline)
    assert abs(sum(ex["contributions"]) - c["sum"]) < 1e-4
    assert abs(c["sum"] - (c["logit"] - c["baseline_logit"])) <= 0.05 * abs(c["logit"] - c["baseline_logit"]) + 0.02
    assert client.predict(" ", api_name="/sentiment_explain")["error"].startswith("Please enter text")


def test_paraphrase_similarity_cross_task(client):
    data = client.predict("How do I learn Python?", "What is the best way to learn Python?", api_name="/paraphrase")
    assert -1 <= data["cosine"] <= 1 and 0 <= data["probability"] <= 1 and "Quora" in data["message"]
    data = client.predict("A man plays guitar.", "A man is playing a guitar.", api_name="/similarity")
    assert 0 <= data["score"] <= 5 and len(data["alignment"]) == len(data["tokens1"])
    data = client.predict("I loved this film.", "I hated this film.", api_name="/cross_task")
    assert "flags" in data and [len(p) for p in data["tasks"]["sst"]["probs"]] == [5, 5]
    assert len(data["tasks"]["para"]["prob"]) == 1 and 0 <= data["tasks"]["sts"]["score"][0] <= 5


def test_attention(client):
    out = client.predict("The cat sat.", "", api_name="/attention")
    ft, base = out["finetuned"], out["base"]
    T = len(ft["tokens"])
    assert ft["tokens"][0] == "[CLS]" and len(ft["attentions"]) == 6 and len(ft["attentions"][0][0]) == T
    assert len(base["entropy"]) == 6 and len(base["entropy"][0]) == 12


def test_attention_slices_and_token_cap(client):
    full = client.predict("The cat sat on the mat.", "", api_name="/attention")["finetuned"]
    one = client.predict("The cat sat on the mat.", "", 2, 3, api_name="/attention")["finetuned"]
    assert one["attentions"] == full["attentions"][2][3] and (one["layer"], one["head"]) == (2, 3)
    layer = client.predict("The cat sat on the mat.", "", 5, None, api_name="/attention")["base"]
    assert len(layer["attentions"]) == 12 and len(layer["attentions"][0]) == len(layer["tokens"])
    long = client.predict("word " * 3000, "", 0, 0, api_name="/attention")["finetuned"]
    assert len(long["tokens"]) == long["max_tokens"] == 128 and long["truncated"] and len(long["attentions"]) == 128
    every = client.predict("word " * 3000, "", api_name="/attention")["base"]
    assert every["attention_tokens"] == 64 and len(every["attentions"][5][11]) == 64 and len(every["tokens"]) == 128
    assert "layer" in client.predict("x", "", 6, None, api_name="/attention")["error"]
    assert "layer with the head" in client.predict("x", "", None, 1, api_name="/attention")["error"]


def test_long_input_attributions_take_fewer_steps(client):
    ex = client.predict("great film and " * 300, api_name="/sentiment_explain")
    assert len(ex["tokens"]) == 512 and "(8 steps" in ex["method"] and ex["truncated"]
    short = client.predict("A great film.", api_name="/sentiment_explain")
    assert "(16 steps" in short["method"]


PAIRS = [("How do I learn Python?", "What is the best way to learn Python?"),
         ("A man plays a guitar.", "A woman slices an onion."), ("I loved this film.", "I hated this film."),
         ("word " * 300, "A very long sentence against a short one.")]


def test_score_pairs_match_the_single_pair_endpoints(client):
    text = "\n".join(f"{a}\t{b}" for a, b in PAIRS) + "\nno tab on this line\n"
    out = client.predict(text, None, api_name="/score_pairs")
    assert [r["line"] for r in out["rows"]] == [1, 2, 3, 4] and [n for n, _ in out["bad_lines"]] == [5]
    assert "line 5" in out["message"]
    for (a, b), row in zip(PAIRS, out["rows"]):
        para = client.predict(a, b, api_name="/paraphrase")
        sim = client.predict(a, b, api_name="/similarity")
        assert abs(row["probability"] - para["probability"]) < 1e-5 and abs(row["cosine"] - para["cosine"]) < 1e-5
        assert abs(row["score"] - sim["score"]) < 1e-5 and row["is_paraphrase"] == para["is_paraphrase"]
    with open(out["csv"], newline="") as f:  # gradio_client downloaded it
        assert [int(r["line"]) for r in csv.DictReader(f)] == [1, 2, 3, 4]


def test_score_pairs_from_a_file_and_its_errors(client, tmp_path):
    from gradio_client import handle_file
    f = tmp_path / "pairs.jsonl"
    f.write_text('{"sentence1": "a cat", "sentence2": "a kitten"}\n{"sentence1": "x"}\nnot json\n')
    out = client.predict("", handle_file(str(f)), api_name="/score_pairs")
    assert len(out["rows"]) == 1 and [n for n, _ in out["bad_lines"]] == [2, 3]
    g = tmp_path / "one-column.csv"
    g.write_text("sentence\nonly one\n")
    out = client.predict("", handle_file(str(g)), api_name="/score_pairs")
    assert list(out) == ["error"] and "sentence 2" in out["error"]
    out = client.predict("", None, api_name="/score_pairs")
    assert list(out) == ["error"] and "paste lines" in out["error"] and "|||" in out["error"]
    out = client.predict("", "/etc/passwd", api_name="/score_pairs")  # a server path is no upload
    assert list(out) == ["error"]


def test_score_pairs_typed_and_with_triple_bars(client):
    a, b = PAIRS[0]
    tab = client.predict(f"{a}\t{b}", None, api_name="/score_pairs")
    bars = client.predict(f"{a} ||| {b}", None, api_name="/score_pairs")
    boxes = client.predict("", None, [["", ""], [a, b]], api_name="/score_pairs")
    assert tab["rows"][0]["probability"] == bars["rows"][0]["probability"] == boxes["rows"][0]["probability"]
    assert boxes["rows"][0]["line"] == 2


def test_evaluate_file_matches_the_batch_cli(client, data_dir, tmp_path):
    from gradio_client import handle_file

    from minbert.data import read_task_file
    dev = read_task_file(data_dir / "ids-sst-dev.csv").examples[:300]
    f = tmp_path / "sst300.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "sentence", "label"])
        w.writerows([e.id, e.text, e.label] for e in dev)
    out = client.predict(handle_file(str(f)), "sentiment", "", "", "", api_name="/evaluate_file")
    m, path = out["metrics"], out["csv"]
    assert m["rows"] == 300 and not m["bad"] and "300 rows evaluated" in out["message"]
    with open(path, newline="") as fh:
        back = list(csv.DictReader(fh))
    assert [r["id"] for r in back] == [e.id for e in dev] and [r["sentence"] for r in back] == [e.text for e in dev]
    assert sum(int(r["correct"]) for r in back) / 300 == pytest.approx(m["accuracy"], abs=1e-12)
    out = tmp_path / "cli.csv"
    subprocess.run([sys.executable, "-m", "minbert.predict", "--task", "sentiment", "--input", str(f), "--output",
                    str(out)], check=True, capture_output=True, cwd=str(CHECKPOINT.parent.parent))
    with out.open(newline="") as fh:
        cli = [int(r["label"]) for r in csv.DictReader(fh)]
    assert m["accuracy"] == pytest.approx(sum(p == e.label for p, e in zip(cli, dev)) / 300, abs=1e-12)
    assert [int(r["predicted"]) for r in back] == cli
    assert sum(map(sum, m["confusion"])) == 300 and len(m["per_class"]["f1"]) == 5 and 0 <= m["ece"] <= 1


def test_evaluate_file_names_bad_lines_and_missing_columns(client, tmp_path):
    from gradio_client import handle_file
    f = tmp_path / "bad.csv"
    f.write_text('sentence,label\ngood film,3\n,2\nbad film,x\n"a,b",1,extra\ndull,1\n')
    out = client.predict(handle_file(str(f)), "sentiment", "", "", "", api_name="/evaluate_file")
    m, path = out["metrics"], out["csv"]
    assert [n for n, _ in m["bad"]] == [3, 4, 5] and "line 3" in out["message"] and m["rows"] == 2
    with open(path, newline="") as fh:  # one row per input row, the skipped ones saying why
        back = list(csv.DictReader(fh))
    assert [r["line"] for r in back] == ["2", "3", "4", "5", "6"] and [r["sentence"] for r in back] == \
        ["good film", "", "bad film", "", "dull"]
    assert [bool(r["skipped_because"]) for r in back] == [False, True, True, True, False]
    assert back[0]["predicted_class"] and not back[1]["predicted"]
    out = client.predict(handle_file(str(f)), "similarity", "", "", "", api_name="/evaluate_file")
    assert list(out) == ["error"] and "sentence 2" in out["error"] and "['sentence', 'label']" in out["error"]
    assert "'Sentence 2 column' box" in out["error"]
    g = tmp_path / "sts.tsv"
    g.write_text("s1\ts2\tgold\na man plays\ta man is playing\t4.5\ntwo dogs\ta cat\t0.5\nx\ty\t2\n")
    out = client.predict(handle_file(str(g)), "similarity", "s1", "s2", "gold", api_name="/evaluate_file")
    m, path = out["metrics"], out["csv"]
    assert m["rows"] == 3 and -1 <= m["pearson"] <= 1
    with open(path, newline="") as fh:
        back = list(csv.DictReader(fh))
    assert [r["s1"] for r in back] == ["a man plays", "two dogs", "x"] and all(0 <= float(r["predicted_score"]) <= 5 for r in back)


def test_evaluate_file_semicolons_and_text_labels(client, tmp_path):
    from gradio_client import handle_file
    f = tmp_path / "words.csv"
    f.write_text("review;label\nA gorgeous, moving film.;Positive\nA dull mess.;very negative\nIt was fine.;neutral\n")
    out = client.predict(handle_file(str(f)), "sentiment", "review", "", "", api_name="/evaluate_file")
    m, path = out["metrics"], out["csv"]
    assert m["rows"] == 3 and not m["bad"] and m["per_class"]["support"] == [1, 0, 1, 0, 1]
    assert path.endswith("words.predictions.csv")


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_a_message(client, text):
    out = client.predict(text, api_name="/sentiment")
    assert list(out) == ["error"] and "empty" in out["error"]


def test_missing_pair_sentence_is_a_message(client):
    out = client.predict("Only one sentence.", "", api_name="/paraphrase")
    assert list(out) == ["error"] and "sentence 2" in out["error"]
    assert "sentence 1" in client.predict("", "x", api_name="/similarity")["error"]


def test_long_text_is_truncated_with_a_note(client):
    data = client.predict("word " * 800, api_name="/sentiment")
    assert data["truncated"] and "512" in data["message"] and len(data["tokens"]) == 512


@pytest.mark.parametrize("text", ["<script>alert('x')</script> <img src=x onerror=alert(1)> great film",
                                  "最高の映画でした 😍🔥", "Отличный фильм", "../../../../etc/passwd"])
def test_odd_inputs_are_handled_and_escaped(studio, client, text):
    data = client.predict(text, api_name="/sentiment")
    assert "label" in data and "<script>" not in data["message"] and "<img" not in data["message"]
    highlight = studio.sentiment_highlight(text)  # the HTML the Sentiment tab shows
    assert "<script>" not in highlight and "<img" not in highlight and "span" in highlight


def test_importing_app_starts_nothing():
    code = "import time, app; t = time.time(); import gradio; print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=str(CHECKPOINT.parent.parent))
    assert r.returncode == 0 and r.stdout.strip().endswith("ok") and "Running on" not in r.stdout


def test_compare_endpoint_self_and_first_epoch(client):
    from tests.app_server import CHECKPOINT as ck
    report = client.predict(str(ck), str(ck), api_name="/compare")
    assert all(r["diff"] == 0 and r["p_value"] == 1.0 for r in report["tasks"].values()), report["message"]
    report = client.predict(str(ck), f"{ck}@epoch1", api_name="/compare")
    assert "McNemar" in report["message"] and report["tasks"]["sst"]["mcnemar"]["a_right_b_wrong"] > 0
    report = client.predict("/etc/passwd", str(ck), api_name="/compare")
    assert list(report) == ["error"]  # only listed models, never an arbitrary path


def test_compare_lists_and_report_name_models_short(studio, monkeypatch, tmp_path):
    """The lists and the summary show checkpoints/... rather than an absolute path, from any working folder; the
    value sent back is the whole path."""
    monkeypatch.chdir(tmp_path)
    choices = studio.compare_choices()
    assert ("checkpoints/minbert-multitask@epoch1", f"{CHECKPOINT}@epoch1") in choices
    assert not any(label.startswith("/") for label, value in choices if value.startswith(str(CHECKPOINT.parent)))
    msg = studio.compare(f"{CHECKPOINT}@epoch1", str(CHECKPOINT))[0]
    assert "B = `checkpoints/minbert-multitask` against A = `checkpoints/minbert-multitask@epoch1`" in msg


def test_live_head_mask(client):
    r = client.predict("", "A wonderful, moving film.", "", api_name="/head_mask")
    assert r["removed"] == 0 and r["masked"] == r["all heads"]
    r = client.predict("L0 L1 L2 L3 L4 L5", "How do I learn Python?", "What is the best way to learn Python?",
                       api_name="/head_mask")
    assert r["removed"] == 72 and r["pair"] and r["masked"] != r["all heads"] and "72 heads removed" in r["message"]
    r = client.predict("7.1", "A film.", "", api_name="/head_mask")
    assert list(r) == ["error"] and "not a head" in r["error"]


def test_behaviour_template_endpoint(client):
    out = client.predict("The {noun} was {pos_adj}.", "", "positive (class 3-4)", api_name="/behaviour_template")
    assert "cases fail" in out["message"] and len(out["rows"]) == out["n"] == 120
    out = client.predict("The {dish} was bad.", "", "negative (class 0-1)", api_name="/behaviour_template")
    assert list(out) == ["error"] and "{dish}" in out["error"]
    assert "expectation" in client.predict("x", "", "anything", api_name="/behaviour_template")["error"]


# --- the public API as docs/USAGE.md documents it ------------------------------------------------------------------
USAGE = CHECKPOINT.parent.parent / "docs" / "USAGE.md"
REVIEWS = 'review,label\n"A gorgeous, witty film.",4\nA dull mess.,0\n,2\nIt was fine.,2\nA flat and tired sequel.,1\n'
PAIR = ("How do I learn Python?", "What is the best way to learn Python?")
MARKUP = re.compile(r"<[a-zA-Z/!][^>]*>|\*\*|`")  # an HTML tag, Markdown emphasis or code


def documented() -> dict:
    """docs/USAGE.md's endpoints: under each "### `/name`" heading, the first JSON block is an example answer."""
    parts = USAGE.read_text(encoding="utf-8").split("\n### `/")[1:]
    return {p.split("`", 1)[0]: json.loads(p.split("```json\n", 1)[1].split("```", 1)[0]) for p in parts}


def kind(value) -> str:
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


def shape_errors(doc, live, where: str = "") -> list[str]:
    """Where `live` breaks the documented example `doc`: a documented key missing, or a value of another kind
    (int and float are both numbers; a list is compared by its first item; null stands for any value)."""
    if doc is None:
        return []
    if kind(doc) != kind(live):
        return [f"{where or 'answer'}: {kind(live)}, documented {kind(doc)}"]
    if isinstance(doc, dict):
        return [e for k, v in doc.items() for e in (shape_errors(v, live[k], f"{where}.{k}") if k in live
                                                    else [f"{where}.{k}: missing"])]
    if isinstance(doc, list) and doc and live:
        return shape_errors(doc[0], live[0], f"{where}[0]")
    return []


@pytest.fixture(scope="module")
def api_calls(tmp_path_factory):
    """Each public endpoint: the inputs of its documented example, and inputs it must refuse."""
    from gradio_client import handle_file

    from tests.test_corpus_map import synthetic
    folder = tmp_path_factory.mktemp("api")
    (folder / "reviews.csv").write_text(REVIEWS)
    synthetic().to_csv(folder / "topics.csv", index=False)  # the same file each run: mapped once, then cached
    reviews, corpus = handle_file(str(folder / "reviews.csv")), handle_file(str(folder / "topics.csv"))
    return {
        "sentiment": (("A gorgeous, witty film.",), ("",)),
        "sentiment_explain": (("A gorgeous, witty film.",), (" ",)),
        "counterfactual": (("A gorgeous, witty film.", "A dull, witty film."), ("A gorgeous, witty film.", "")),
        "paraphrase": (PAIR, ("x", "")),
        "similarity": (("A man plays guitar.", "A man is playing a guitar."), ("", "x")),
        "cross_task": (("I loved this film.", "I hated this film."), ("x", None)),
        "run_task": (("sst", "A gorgeous, witty film.", None), ("nope", "x", None)),
        "score_pairs": (("a cat ||| a kitten\nsun\tmoon\nno separator here", None, None), ("", None, None)),
        "attention": (("The cat sat.", "", 2, 3), ("x", "", 99, None)),
        "head_mask": (("L0 L1 L2 L3 L4 L5", *PAIR), ("9.9", "x", "")),
        "map_corpus": ((corpus,), ("/etc/passwd",)),
        "evaluate_file": ((reviews, "sentiment", "review", "", ""), (reviews, "nonsense", "", "", "")),
        "behaviour_template": (("The {noun} was not {pos_adj}.", "", "negative (class 0-1)"),
                               ("The {dish} was bad.", "", "negative (class 0-1)")),
        "compare": ((f"{CHECKPOINT}@epoch1", str(CHECKPOINT)), ("/etc/passwd", str(CHECKPOINT))),
        "dev_slice": ((["sst:a7d575c9ed86ea9633660c67e", "sst:33cfa32975091f471e3a19656", "sst:266dc1a26e2654235e8d8dd22",
                        "sts:876d0172eef5db7776e39c5de", "sts:e8336dc096adaf2de4e8e9425", "sts:6b73f3755d3f2a1906e25bcc2",
                        "sst:nope"],), (["nope:1"],)),
    }


def test_the_public_endpoints_are_the_documented_ones(client, api_calls):
    """The endpoints a client sees (Gradio's API page) are exactly those docs/USAGE.md lists."""
    public = {name.lstrip("/") for name in client.view_api(return_format="dict", print_info=False)["named_endpoints"]}
    assert public == set(documented()) == set(api_calls)


def test_public_endpoints_match_the_documented_shapes(client, api_calls):
    """Each endpoint answers its documented example's inputs with the example's keys and kinds of values, in one
    plain JSON object whose message is plain text; bad input gets {"error": plain text}."""
    docs, answers = documented(), {}
    for name, (good, bad) in api_calls.items():
        out = answers[name] = client.predict(*good, api_name=f"/{name}")
        assert set(out) == set(docs[name]), (name, sorted(out))
        assert not shape_errors(docs[name], out), (name, shape_errors(docs[name], out))
        assert not MARKUP.search(out.get("message", "")), (name, out["message"])
        refused = client.predict(*bad, api_name=f"/{name}")
        assert list(refused) == ["error"] and refused["error"] and not MARKUP.search(refused["error"]), (name, refused)
    with open(answers["score_pairs"]["csv"], newline="") as f:  # the files came down to this machine
        assert f.readline().startswith("line,sentence1,sentence2")
    assert answers["evaluate_file"]["csv"].endswith("reviews.predictions.csv")


# --- a task added by its spec file (tasks/cfimdb.yaml) -----------------------------------------------------------
@pytest.fixture(scope="module")
def added_task_studio(added_task_checkpoint, data_dir):
    """The app's logic on a checkpoint trained with CFIMDB, after `analysis.precompute` (its map's 2-D layout is the
    embeddings' first two coordinates here: UMAP's layout is not what these tests check, and costs a minute)."""
    import analysis.precompute as pre
    from analysis.studio.service import Studio
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pre, "fit_umap", lambda emb: emb[:, :2].copy())
        pre.run(pre.PrecomputeArgs(added_task_checkpoint, str(data_dir), 64))
    return Studio(added_task_checkpoint, data_dir=str(data_dir), offline=True)


def test_an_added_task_in_the_errors_tab_and_the_map(added_task_studio):
    """CFIMDB's precomputed dev outputs give its confusion matrix and per-class scores as sklearn computes them, its
    misclassified examples, its distribution panel and its points on the map."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    s = added_task_studio
    cf = s.tasks["cfimdb"]
    assert [t.key for t in s.classes_tasks] == ["sst", "para", "cfimdb"] and [t.key for t in s.added_tasks] == ["cfimdb"]
    p = s.preds["cfimdb"]
    assert len(p["ids"]) == 245  # the whole dev file, not the run's --limit
    fig, rows, summary = s.confusion("cfimdb", False)
    assert fig.data[0].z.tolist() == confusion_matrix(p["gold"], p["pred"], labels=[0, 1]).tolist()
    prec, rec, f1, support = precision_recall_fscore_support(p["gold"], p["pred"], labels=[0, 1], zero_division=0)
    assert [r[0] for r in rows] == list(cf.classes) and [r[4] for r in rows] == support.tolist()
    assert [float(r[3]) for r in rows] == pytest.approx(f1, abs=5e-4) and "accuracy" in summary
    wrong = sum(int(g) != int(q) for g, q in zip(p["gold"], p["pred"]))
    mis = s.misclassified("cfimdb", "any", "any", None)
    assert len(mis) == wrong and all(r[0] != r[1] and r[0] in cf.classes for r in mis)
    assert s.class_choices("cfimdb") == ["any", "negative", "positive"]
    ov = s.error_overview()
    assert "CFIMDB" in [a.text for a in ov.distribution.layout.annotations] and ov.protocol
    assert [t.key for t, *_ in ov.scores] == ["sts"] and [t.key for t, _ in ov.ordinal] == ["sst"]
    assert "cfimdb" in [t.key for t in s.map_tasks()]
    names = {tr.name for tr in s.maps("gold label", ["cfimdb"])[1].data}
    assert names and names <= {"CFIMDB: negative", "CFIMDB: positive"}


@pytest.fixture(scope="module")
def added_task_client(added_task_studio, added_task_checkpoint):
    """The app on the CFIMDB checkpoint (with its precomputed results), through gradio_client."""
    from gradio_client import Client

    from tests.app_server import AppServer
    with AppServer(added_task_checkpoint, args=("--precision", "fp32", "--offline")) as server:
        yield Client(server.url, verbose=False)


def test_an_added_task_answers_in_the_app(added_task_client, added_task_checkpoint):
    """/run_task answers for CFIMDB as the model does offline (minbert.evaluate.inference.predict), Cross-task runs it
    on each sentence, and a task the model lacks, or a pair task without its second sentence, gets a message."""
    from minbert.checkpoint import load_checkpoint
    from minbert.data import Example
    from minbert.evaluate.inference import predict
    text = "A gorgeous, witty and moving film."
    out = added_task_client.predict("cfimdb", text, None, api_name="/run_task")
    ck = load_checkpoint(added_task_checkpoint)
    ref = predict(ck.model, "cfimdb", [Example("0", text)], ck.tokenizer)
    assert out["task"] == "cfimdb" and out["label"] == int(ref["pred"][0])
    assert out["label_name"] == ck.model.tasks["cfimdb"].classes[out["label"]]
    assert out["probs"] == pytest.approx(ref["probs"][0].tolist(), abs=1e-5)
    cross = added_task_client.predict(text, "A dull mess.", api_name="/cross_task")
    assert "CFIMDB" in cross["message"] and [len(p) for p in cross["tasks"]["cfimdb"]["probs"]] == [2, 2]
    assert cross["tasks"]["cfimdb"]["name"] == "CFIMDB" and "flags" in cross
    pair = added_task_client.predict("sts", "A man plays.", "A man is playing.", api_name="/run_task")
    assert 0 <= pair["score"] <= 5
    assert "Pick a task" in added_task_client.predict("nope", text, None, api_name="/run_task")["error"]
    assert "sentence 2" in added_task_client.predict("sts", text, None, api_name="/run_task")["error"]
