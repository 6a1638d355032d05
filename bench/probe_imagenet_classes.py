"""Probe (stop 36, bench/LEARNING.md): would the neighbours find a trailer's kind better by what EfficientNet-Lite0's
own ImageNet classifier makes of its frames (class probabilities, log-probabilities, logits, or how sure it is)
than by the embeddings? bench/learn's training sides only (make them first with
``python -m bench.learn --keep /tmp/learn``), each photograph or shape left out in turn; the held-out trailers
are never read.

    .venv/bin/python -m bench.probe_imagenet_classes content motion
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch

from ml.encoder import FrameEncoder

KEEP = "/tmp/learn"


def load(set_name: str) -> list[dict]:
    classifier = FrameEncoder().net._fc  # the ImageNet head on the pooled features the cache holds
    out = []
    for row in json.load(open(f"{KEEP}/{set_name}/train/index.json")):
        emb = np.concatenate([np.load(path).astype(np.float32) for path in row["embeddings"]])
        with torch.no_grad():
            logits = classifier(torch.from_numpy(emb))
        p = logits.softmax(-1).numpy()
        out.append({"rating": row["rating"], "source": row["source"], "emb": emb.mean(0), "prob": p.mean(0),
                    "logp": np.log(p + 1e-8).mean(0), "logits": logits.numpy().mean(0),
                    "sure": [float((-(p * np.log(p + 1e-12)).sum(-1)).mean()), float(p.max(-1).mean())]})
    return out


def knn(train: np.ndarray, ratings: np.ndarray, test: np.ndarray, metric: str, k: int = 5) -> np.ndarray:
    if metric == "standardised":  # as ml.neighbours compares trailers
        mean, sd = train.mean(0), train.std(0)
        sd[sd < 1e-12] = np.inf
        a, b = (train - mean) / sd, (test - mean) / sd
        distance = ((b[:, None, :] - a[None]) ** 2).sum(-1)
    elif metric == "cosine":
        a = train / np.linalg.norm(train, axis=1, keepdims=True)
        distance = -(test / np.linalg.norm(test, axis=1, keepdims=True)) @ a.T
    else:  # hellinger, for probabilities
        distance = ((np.sqrt(test)[:, None, :] - np.sqrt(train)[None]) ** 2).sum(-1)
    return ratings[np.argsort(distance, 1)[:, :k]].mean(1)


def ridge(train: np.ndarray, ratings: np.ndarray, test: np.ndarray, penalty: float = 1.0) -> np.ndarray:
    mean, sd = train.mean(0), train.std(0) + 1e-9
    a = np.c_[(train - mean) / sd, np.ones(len(train))]
    weights = np.linalg.solve(a.T @ a + penalty * np.eye(a.shape[1]), a.T @ ratings)
    return np.c_[(test - mean) / sd, np.ones(len(test))] @ weights


def main(sets: list[str]) -> None:
    for set_name in sets:
        data = load(set_name)
        y = np.array([d["rating"] for d in data])
        source = np.array([d["source"] for d in data])
        x = {key: np.stack([d[key] for d in data]) for key in ("emb", "prob", "logp", "logits", "sure")}
        methods = {
            "embeddings, standardised (today)": ("emb", lambda a, r, b: knn(a, r, b, "standardised")),
            "embeddings, cosine": ("emb", lambda a, r, b: knn(a, r, b, "cosine")),
            "class probabilities, Hellinger": ("prob", lambda a, r, b: knn(a, r, b, "hellinger")),
            "class probabilities, cosine": ("prob", lambda a, r, b: knn(a, r, b, "cosine")),
            "log-probabilities, standardised": ("logp", lambda a, r, b: knn(a, r, b, "standardised")),
            "logits, standardised": ("logits", lambda a, r, b: knn(a, r, b, "standardised")),
            "ridge on entropy and top probability": ("sure", ridge),
        }
        print(f"{set_name}: {len(y)} training trailers from {len(set(source))} sources; MAE over the training mean's")
        for name, (key, predict) in methods.items():
            errors, baseline = [], []
            for left_out in sorted(set(source)):
                test = source == left_out
                errors += list(np.abs(predict(x[key][~test], y[~test], x[key][test]) - y[test]))
                baseline += list(np.abs(y[~test].mean() - y[test]))
            print(f"  {name:38s} {np.mean(errors) / np.mean(baseline):.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["content", "motion"])
