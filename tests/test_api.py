"""The public API's plain data (analysis/studio/api.py) and app.py's upload check, without a live app: Markdown
messages become plain text, numpy values JSON numbers, and a server path a client names is no upload."""
import json

import numpy as np

from analysis.studio.api import plain_json, plain_text


def test_markdown_messages_become_plain_text():
    md = ("**paraphrase** · P 89.8% · <small>caveat: `all-MiniLM-L6-v2` saw Quora</small>\n\n"
          "⚠️ 1 bad line(s) skipped: line 3: &lt;b&gt; is not a pair\n- **Flag:** a &amp; b")
    assert plain_text(md) == ("paraphrase · P 89.8% · caveat: all-MiniLM-L6-v2 saw Quora\n\n"
                              "⚠️ 1 bad line(s) skipped: line 3: <b> is not a pair\n- Flag: a & b")


def test_numpy_values_become_json_values():
    value = {"p": np.float32(0.5), "n": np.int64(3), "rows": (1, np.arange(2)), 4: [np.bool_(True)]}
    out = plain_json(value)
    assert out == {"p": 0.5, "n": 3, "rows": [1, [0, 1]], "4": [True]}
    assert json.loads(json.dumps(out)) == out and type(out["n"]) is int and type(out["4"][0]) is bool


def test_only_gradio_uploads_reach_the_file_endpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path))
    import app
    inside = tmp_path / "0a1b" / "pairs.csv"
    assert app.uploaded({"path": str(inside), "meta": {"_type": "gradio.FileData"}}) == str(inside)
    for named in ("/etc/passwd", {"path": "/etc/passwd"}, {"path": f"{tmp_path}/../../etc/passwd"}, None, 12345):
        assert app.uploaded(named) is None
