#!/usr/bin/env python3
"""Train a linear classifier on scikit-learn's digits data set, one epoch per step.

The data set (1,797 8x8 images of handwritten digits) ships inside scikit-learn, so
nothing is downloaded. Hyperparameters come from the environment variables that
FetchML sets for a job (FETCHML_PARAM_<NAME>, upper or lower case name):

    ALPHA          L2 regularisation strength of SGDClassifier   (default 0.0001)
    EPOCHS         passes over the training set, one step each    (default 20)
    SEED           random seed for the split and the shuffling    (default 0)
    TEST_FRACTION  share of the images held out for testing       (default 0.25)

Outputs, in FETCHML_RESULTS_DIR (default /workspace/results):

    metrics.jsonl  one line per step: {"step": n, "loss": x, "accuracy": y}
    model.pkl      the fitted pipeline (StandardScaler + SGDClassifier), pickled
    summary.json   final test accuracy, parameters and sizes

Each step is also printed as `fetchml:metric step=n loss=x accuracy=y`.
Exit status: 0 on success, 2 for a bad parameter, 1 for any other failure.
"""

import json
import os
import pickle
import sys
import time

DEFAULTS = {"alpha": 0.0001, "epochs": 20, "seed": 0, "test_fraction": 0.25}


class ParamError(ValueError):
    """A hyperparameter from the environment could not be used."""


def param(name, default, convert):
    """Read FETCHML_PARAM_<NAME> (or its lower-case form) and convert it."""
    for key in ("FETCHML_PARAM_" + name.upper(), "FETCHML_PARAM_" + name.lower()):
        raw = os.environ.get(key)
        if raw is not None and raw != "":
            try:
                return convert(raw)
            except ValueError:
                raise ParamError(f"{key}={raw!r} is not a valid {convert.__name__}") from None
    return default


def read_params():
    """All hyperparameters, validated."""
    params = {
        "alpha": param("alpha", DEFAULTS["alpha"], float),
        "epochs": param("epochs", DEFAULTS["epochs"], int),
        "seed": param("seed", DEFAULTS["seed"], int),
        "test_fraction": param("test_fraction", DEFAULTS["test_fraction"], float),
    }
    if not params["alpha"] > 0:
        raise ParamError("alpha must be > 0")
    if not 1 <= params["epochs"] <= 10000:
        raise ParamError("epochs must be between 1 and 10000")
    if not 0.05 <= params["test_fraction"] <= 0.9:
        raise ParamError("test_fraction must be between 0.05 and 0.9")
    return params


def write_json_atomic(path, value):
    """Write JSON to path through a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(value, out, indent=2, sort_keys=True)
        out.write("\n")
    os.replace(tmp, path)


def train(params, results_dir):
    """Fit the model epoch by epoch, log one metric line per epoch, return the summary."""
    import numpy as np
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import accuracy_score, log_loss
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data,
        digits.target,
        test_size=params["test_fraction"],
        random_state=params["seed"],
        stratify=digits.target,
    )
    scaler = StandardScaler().fit(x_train)
    x_train_s = scaler.transform(x_train)
    x_test_s = scaler.transform(x_test)
    classes = np.unique(digits.target)

    clf = SGDClassifier(loss="log_loss", alpha=params["alpha"], random_state=params["seed"])
    rng = np.random.default_rng(params["seed"])
    started = time.monotonic()
    accuracy = 0.0
    loss = float("nan")
    with open(os.path.join(results_dir, "metrics.jsonl"), "w", encoding="utf-8") as metrics:
        for step in range(1, params["epochs"] + 1):
            order = rng.permutation(len(x_train_s))
            clf.partial_fit(x_train_s[order], y_train[order], classes=classes)
            loss = float(log_loss(y_train, clf.predict_proba(x_train_s), labels=classes))
            accuracy = float(accuracy_score(y_test, clf.predict(x_test_s)))
            line = {"step": step, "loss": round(loss, 6), "accuracy": round(accuracy, 6)}
            metrics.write(json.dumps(line) + "\n")
            metrics.flush()
            print(f"fetchml:metric step={step} loss={loss:.6f} accuracy={accuracy:.6f}",
                  flush=True)

    model = make_pipeline(scaler, clf)
    model_path = os.path.join(results_dir, "model.pkl")
    with open(model_path + ".tmp", "wb") as out:
        pickle.dump(model, out)
    os.replace(model_path + ".tmp", model_path)

    return {
        "test_accuracy": accuracy,
        "train_loss": loss,
        "steps": params["epochs"],
        "params": params,
        "n_train": int(len(x_train)),
        "n_test": int(len(x_test)),
        "seconds": round(time.monotonic() - started, 3),
        "model": "StandardScaler + SGDClassifier(loss=log_loss)",
        "sklearn_version": sklearn.__version__,
        "job_id": os.environ.get("FETCHML_JOB_ID"),
    }


def main():
    results_dir = os.environ.get("FETCHML_RESULTS_DIR") or "/workspace/results"
    try:
        params = read_params()
    except ParamError as err:
        print(f"train.py: {err}", file=sys.stderr)
        return 2
    try:
        os.makedirs(results_dir, exist_ok=True)
        print(f"train.py: params {json.dumps(params, sort_keys=True)}, results in {results_dir}",
              flush=True)
        summary = train(params, results_dir)
        write_json_atomic(os.path.join(results_dir, "summary.json"), summary)
    except Exception as err:  # any failure must show in the exit status
        print(f"train.py: failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(f"train.py: final test accuracy {summary['test_accuracy']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
