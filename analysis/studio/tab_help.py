"""Plain words for each tab: one line under its title saying what it shows and how to read it, and a glossary of
the jargon it uses (the README's #glossary section has the full list)."""
from __future__ import annotations

from analysis.studio.theme import class_legend

GLOSSARY_LINK = "README.md#glossary"

INTRO = {
    "Sentiment": "Type a sentence: the bars give the model's probability for each of the five classes, and the "
                 "words are coloured by which way they push the prediction on the scale.",
    "Paraphrase": "Two sentences: the probability that they are Quora-style duplicates (ask the same thing), and "
                  "the cosine between their embeddings.",
    "Similarity": "Two sentences: a 0-5 similarity score (STS-B scale) and a map of which words match which.",
    "Cross-task": "One pair through every task at once, by kind: the pair tasks on the pair, the sentence tasks on "
                  "each sentence; flags appear where the three built-in tasks disagree.",
    "Other tasks": "The tasks this checkpoint was trained on beyond the three built-in ones (a task spec file): type "
                   "a sentence (or a pair) for the task's prediction.",
    "Attention": "Where each token looks inside the encoder (layer by layer, head by head), fine-tuned beside the "
                 "pretrained base, and which heads matter for each task.",
    "Embeddings": "Every dev sentence as a point: nearby points have similar embeddings. Colour the map by label, "
                  "prediction or task, place your own sentence (★) to see its nearest neighbours, and box, lasso "
                  "or search a slice of the dev set to score it.",
    "Errors & imbalance": "Where the model goes wrong on the dev sets: class balance, the confusion matrix (click a "
                          "cell to list its examples), calibration and the score tasks' errors.",
    "Behaviour": "Small generated tests of what should (not) change the output, such as a negation or a typo; "
                 "lower failure rates are better.",
    "Compare": "Two models on the same dev examples: which is better, whether the difference is significant, and "
               "the examples whose prediction flipped.",
    "Training": "How this checkpoint was trained: loss and dev curves, the learning-rate schedule, and the "
                "experiments behind the recipe.",
}

_TERMS = {
    "IG (integrated gradients)": "a word's contribution to a class score, summed along a path from a blank input "
                                 "(the [PAD] baseline: every word replaced by padding) to the sentence.",
    "completeness": "IG's check: the contributions add up to how far the score moves from the blank input to the "
                    "sentence. A small gap means the approximation is good.",
    "temperature": "one number that divides the scores before the probabilities are computed, fitted so that "
                   "a 70% answer is right about 70% of the time; it never changes the predicted class.",
    "ECE / calibration": "how far confidence is from accuracy, averaged over confidence bins (0 is perfect).",
    "UMAP": "a method that draws high-dimensional embeddings in 2-D, keeping near neighbours near.",
    "slice": "a subset of the dev examples (a region of the map, or the sentences a search finds), scored by "
             "each task's own metric beside the whole dev set: a much lower score marks a region the model finds hard.",
    "cosine": "the angle-based similarity of two embeddings: 1 = same direction, 0 = unrelated.",
    "head importance": "how much a task's score drops when one attention head is switched off; the gradient "
                       "importance (Michel et al., 2019) estimates the same from gradients.",
    "entropy (attention)": "how spread out a head's attention is: low = it looks at a few tokens.",
    "McNemar": "an exact test on the examples where exactly one of two models is right.",
    "bootstrap 95% interval": "the range of the difference over 1,000 resamples of the dev examples.",
    "MNRL / R-Drop": "two training losses tried and retired (multiple-negatives ranking; dropout consistency).",
    "the report's Figure 7": "the ablation in the CS224N report this project follows: one ingredient per row.",
    "Quora held-out split": "without a Quora training file, pairs whose hex id mod 10 is below 3 are held out for "
                            "evaluation and the others train (written int(id,16)%10 >= 3).",
}
TAB_TERMS = {
    "Sentiment": ("IG (integrated gradients)", "completeness", "temperature"),
    "Paraphrase": ("cosine", "temperature", "Quora held-out split"),
    "Similarity": ("cosine",),
    "Attention": ("entropy (attention)", "head importance"),
    "Embeddings": ("UMAP", "cosine", "slice"),
    "Errors & imbalance": ("ECE / calibration", "temperature", "Quora held-out split"),
    "Compare": ("McNemar", "bootstrap 95% interval"),
    "Training": ("MNRL / R-Drop", "the report's Figure 7", "Quora held-out split"),
}


def glossary(tab: str) -> str:
    """Markdown definitions of the terms `tab` uses, and where the full glossary is."""
    lines = [f"- **{t}**: {_TERMS[t]}" for t in TAB_TERMS.get(tab, ())]
    return "\n".join(lines + [f"\nMore terms: the Glossary section of the README (`{GLOSSARY_LINK}`)."])


def legend(tasks) -> str:
    """The colour legend of the tasks a tab colours points or bars by (HTML, a line per task), or ''."""
    return "<br>".join(f"{t.name}: {class_legend(t)}" for t in tasks)
