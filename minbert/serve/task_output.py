"""A task head's predictions as programs and files take them, shaped by the task's kind and named by its classes:
plain lists (Predictor.run_task, the app's prediction box for any task) and flat rows (`minbert.predict`)."""
from __future__ import annotations

import numpy as np

from minbert.tasks import Task


def plain(task: Task, out: dict[str, np.ndarray]) -> dict[str, list]:
    """predict()'s outputs (minbert.evaluate.inference, calibrated by minbert.evaluate.temperature.apply) as plain
    lists, one entry per example:
        sentence_classes  label, label_name, probs (N x C), logits (N x C)
        pair_classes      label, label_name, prob (P of the second class, "duplicate"), logit, cosine
        pair_score        score (in the task's score_range), cosine
    """
    if task.is_score:
        return {"score": out["score"].tolist(), "cosine": out["cosine"].tolist()}
    pred = np.asarray(out["pred"]).astype(int)
    res = {"label": pred.tolist(), "label_name": [task.classes[i] for i in pred]}
    if not task.pair:
        return {**res, "probs": out["probs"].tolist(), "logits": out["logits"].tolist()}
    return {**res, "prob": out["prob"].tolist(), "logit": out["logit"].tolist(),
            **({"cosine": out["cosine"].tolist()} if "cosine" in out else {})}


def row(task: Task, p: dict[str, list], i: int) -> dict:
    """Example i of plain(p) as one output record, every class spelled out (p_<class>, logit_<class>), rounded."""
    if task.is_score:
        return {"score": round(p["score"][i], 4), "cosine": round(p["cosine"][i], 5)}
    out = {"label": p["label"][i], "label_name": p["label_name"][i]}
    if not task.pair:
        names = [c.replace(" ", "_") for c in task.classes]
        return {**out, **{f"p_{c}": round(v, 5) for c, v in zip(names, p["probs"][i])},
                **{f"logit_{c}": round(v, 5) for c, v in zip(names, p["logits"][i])}}
    return {**out, "probability": round(p["prob"][i], 5), "logit": round(p["logit"][i], 5),
            **({"cosine": round(p["cosine"][i], 5)} if "cosine" in p else {})}
