"""SST parse trees with a sentiment label on every node: the treebank's labelled phrases as extra examples.

`sst-train-trees.txt` holds the 8,544 training sentences of the SST train split as PTB-style trees,
`(3 (2 (2 The) (2 Rock)) (4 ...))`, one per line, in the order of `ids-sst-train.csv`. Every node's
phrase is an example with the node's 0..4 label: its leaves joined by spaces, PTB escapes (`-LRB-`, `\\/`)
kept, exactly as the CSV writes its sentences (8,541 of the 8,544 roots equal the CSV's sentence and label;
three differ by a no-break space). The root is the sentence itself, which the CSV already provides.
"""
from __future__ import annotations

from pathlib import Path

from minbert.data import DataError, Example

TREES_FILE = "sst-train-trees.txt"


def parse_tree(line: str, where: str = "") -> list[tuple[str, int]]:
    """(phrase, label) for every node, root first."""
    tokens = line.replace("(", " ( ").replace(")", " ) ").split()
    pos = 0
    nodes: list[tuple[list[str], int]] = []

    def node() -> list[str]:  # returns the words under this node
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] != "(":
            raise DataError(f"{where}: expected '(' at token {pos}")
        label_tok = tokens[pos + 1] if pos + 1 < len(tokens) else ""
        if not label_tok.isdigit() or not 0 <= int(label_tok) <= 4:
            raise DataError(f"{where}: bad node label {label_tok!r}")
        pos += 2
        slot = len(nodes)
        nodes.append(([], int(label_tok)))
        words: list[str] = []
        while pos < len(tokens) and tokens[pos] != ")":
            if tokens[pos] == "(":
                words += node()
            else:
                words.append(tokens[pos])
                pos += 1
        if pos >= len(tokens):
            raise DataError(f"{where}: unbalanced brackets")
        pos += 1
        nodes[slot] = (words, nodes[slot][1])
        return words

    node()
    if pos != len(tokens):
        raise DataError(f"{where}: text after the tree")
    return [(" ".join(w), label) for w, label in nodes]


def read_phrases(path: str | Path, min_words: int = 2) -> list[Example]:
    """Every labelled phrase of at least `min_words` words, except the roots (the sentences), deduplicated
    by text within a tree; ids are `<line>-<node>`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found (python -m minbert.data fetch gets it)")
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            seen = set()
            for k, (text, label) in enumerate(parse_tree(line, f"{path}:{n}")):
                if k == 0 or len(text.split()) < min_words or text in seen:
                    continue
                seen.add(text)
                out.append(Example(f"{n}-{k}", text, None, label))
    return out
