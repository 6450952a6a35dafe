"""Notebook 04's checks: each accepts right answers in every reasonable form and rejects
the placeholder, each typical mistake and each known loophole with an ExerciseError."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from labkit.checks import ExerciseError
from labkit.checks import mnist as check

SHARED = Path(os.environ.get("LABKIT_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
needs_shared = pytest.mark.skipif(not (SHARED / "MANIFEST.md").is_file(), reason="offline data folder not present")


# --------------------------------------------------------------------------- exercise 1: initial loss
@pytest.mark.parametrize("value", [math.log(10), 2.3, np.float64(2.302585), np.float32(2.4), np.array(2.3), 2])
def test_initial_loss_prediction_accepts_any_number(value, capsys):
    check.initial_loss_prediction(value)
    assert "committed" in capsys.readouterr().out


@pytest.mark.parametrize("value, hint", [(None, "no answer"), ("2.3", "one number"), (True, "one number"),
                                         ([2.3], "one number"), (-1.0, "never negative"),
                                         (float("nan"), "finite"), (float("inf"), "finite")])
def test_initial_loss_prediction_rejects(value, hint):
    with pytest.raises(ExerciseError, match=hint):
        check.initial_loss_prediction(value)


@pytest.mark.parametrize("predicted, measured", [(math.log(10), 2.35), (2.3, 2.31), (2.5, 2.45),
                                                 (np.float32(2.2), 2.30)])
def test_initial_loss_verdict_accepts_ln10_or_the_measurement(predicted, measured, capsys):
    check.initial_loss_verdict(predicted, measured)
    out = capsys.readouterr().out
    assert "correct" in out and "ln 10" in out


@pytest.mark.parametrize("predicted, hint", [(0.1, "probability of the true class"), (0.9, "error rate"),
                                             (1.0, "log10"), (math.log2(10), "log2"), (10, "number of classes"),
                                             (0.0, "perfect"), (5.0, "ln 10"), (1.5, "ln 10")])
def test_initial_loss_verdict_explains_each_typical_slip(predicted, hint):
    with pytest.raises(ExerciseError, match=hint) as err:
        check.initial_loss_verdict(predicted, 2.33)
    assert "ln 10" in err.value.hint


def test_initial_loss_verdict_needs_both_numbers():
    with pytest.raises(ExerciseError, match="no answer"):
        check.initial_loss_verdict(None, 2.3)
    with pytest.raises(ExerciseError, match="measured_loss"):
        check.initial_loss_verdict(2.3, None)


# --------------------------------------------------------------------------- exercise 2: a CNN from its spec
def _spec(*, act_layers=False, functional=False, compile_kw=None, **overrides):
    """The spec's model, with one ingredient replaced where ``overrides`` says."""
    import keras
    from keras import layers

    o = dict(filters=(16, 32), kernel=3, padding="valid", conv_act="relu", out_act=None, pool=2, extra=None,
             use_bias=True, init="glorot_uniform", tail=None, input_shape=(28, 28, 1))
    o.update(overrides)

    def conv(f):
        act = None if act_layers else o["conv_act"]
        out = [layers.Conv2D(f, o["kernel"], padding=o["padding"], activation=act, use_bias=o["use_bias"],
                             kernel_initializer=o["init"])]
        return out + ([layers.ReLU()] if act_layers else [])

    stack = [*conv(o["filters"][0]), layers.MaxPooling2D(o["pool"]), *conv(o["filters"][1]),
             layers.MaxPooling2D(o["pool"]), layers.Flatten(), *([o["extra"]] if o["extra"] else []),
             layers.Dense(10, activation=o["out_act"], kernel_initializer=o["init"]),
             *([o["tail"]] if o["tail"] else [])]
    if functional:
        inputs = keras.Input(o["input_shape"])
        x = inputs
        for layer in stack:
            x = layer(x)
        model = keras.Model(inputs, x)
    else:
        model = keras.Sequential([keras.Input(o["input_shape"]), *stack])
    kw = dict(optimizer=keras.optimizers.Adam(1e-3),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    if compile_kw is not None:
        if compile_kw == "none":
            return model
        kw.update(compile_kw)
    model.compile(**kw)
    return model


@pytest.fixture
def shared_data(monkeypatch):
    import labkit.data

    monkeypatch.setenv("LABKIT_DATA_DIR", str(SHARED))
    monkeypatch.setattr(labkit.data, "_MEMO", {})


@needs_shared
@pytest.mark.parametrize("variant", [{}, {"act_layers": True}, {"functional": True},
                                     {"compile_kw": {"metrics": ["acc"]}}])
def test_spec_cnn_accepts_the_spec_written_any_reasonable_way(shared_data, variant, capsys):
    import keras

    model = _spec(**variant)
    before = [w.copy() for w in model.get_weights()]
    check.spec_cnn(model)
    assert "correct" in capsys.readouterr().out
    # the check trains a copy: the learner's model is left as it was
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert isinstance(model, keras.Model)


def _mistakes():
    import keras
    from keras import layers

    return [
        (lambda: None, "no answer"),
        (lambda: [layers.Conv2D(16, 3)], "should be a Keras model"),
        (lambda: _spec(input_shape=(28, 28, 3)), "input shape"),
        (lambda: _spec(out_act="softmax"), "logits"),
        (lambda: _spec(tail=layers.Softmax()), "softmax"),
        (lambda: _spec(tail=layers.Activation("softmax")), "softmax"),
        (lambda: _spec(filters=(32, 64)), "filters=32"),
        (lambda: _spec(filters=(32, 16)), "filters=32"),
        (lambda: _spec(kernel=5), "kernel_size"),
        (lambda: _spec(padding="same"), "padding"),
        (lambda: _spec(conv_act=None), "activation='linear'"),
        (lambda: _spec(conv_act="sigmoid"), "activation='sigmoid'"),
        (lambda: _spec(pool=3), "pool_size"),
        (lambda: _spec(extra=layers.Dropout(0.5)), "Dropout; the spec has a Dense"),
        (lambda: _spec(extra=layers.Dense(64, activation="relu")), "units=64"),
        (lambda: _spec(use_bias=False), "parameters"),
        (lambda: keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(16, 3, activation="relu"),
                                   layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(10)]),
         "is a Flatten; the spec has a Conv2D"),
        (lambda: _spec(compile_kw="none"), "not compiled"),
        (lambda: _spec(compile_kw={"optimizer": keras.optimizers.SGD(1e-3)}), "SGD"),
        (lambda: _spec(compile_kw={"optimizer": keras.optimizers.Adam(1e-2)}), "0.01"),
        (lambda: _spec(compile_kw={"optimizer": "adam", "loss": "sparse_categorical_crossentropy"}),
         "string or a plain function"),
        (lambda: _spec(compile_kw={"loss": keras.losses.sparse_categorical_crossentropy}),
         "string or a plain function"),
        (lambda: _spec(compile_kw={"loss": keras.losses.SparseCategoricalCrossentropy()}), "from_logits=False"),
        (lambda: _spec(compile_kw={"loss": keras.losses.CategoricalCrossentropy(from_logits=True)}), "one-hot"),
        (lambda: _spec(compile_kw={"loss": keras.losses.MeanSquaredError()}), "MeanSquaredError"),
        (lambda: _spec(compile_kw={"metrics": None}), "accuracy"),
        (lambda: _spec(compile_kw={"optimizer": keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(1e-3, 100))}), "schedule"),
    ]


@pytest.mark.parametrize("index", range(len(_mistakes())))
def test_spec_cnn_rejects_each_typical_mistake_with_its_hint(index):
    make, hint = _mistakes()[index]
    with pytest.raises(ExerciseError, match=hint) as err:
        check.spec_cnn(make())
    assert err.value.hint


def test_spec_cnn_rejects_frozen_layers_and_nested_models():
    import keras

    model = _spec()
    model.layers[0].trainable = False
    with pytest.raises(ExerciseError, match="frozen"):
        check.spec_cnn(model)
    inner = _spec(compile_kw="none")
    outer = keras.Sequential([keras.Input((28, 28, 1)), inner])
    outer.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    with pytest.raises(ExerciseError, match="model inside the model"):
        check.spec_cnn(outer)


@needs_shared
def test_spec_cnn_behaviour_catches_a_model_that_cannot_learn(shared_data):
    """The right layers and settings, but all-zero kernels: only training reveals it."""
    with pytest.raises(ExerciseError, match="look right, but"):
        check.spec_cnn(_spec(init="zeros"))


# --------------------------------------------------------------------------- exercise 3: confident mistakes
def _solution(probs, y_true, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    return wrong[np.argsort(-probs[wrong, pred[wrong]])][:k]   # unstable sort: any tie order


def _reverse_stable(probs, y_true, k):
    """Ties broken the other way round (last index first): still right."""
    ref = check.reference_confident_mistakes(probs[::-1], y_true[::-1], k)
    return len(probs) - 1 - ref


ACCEPTED = {
    "array": _solution,
    "list of ints": lambda p, y, k: [int(i) for i in _solution(p, y, k)],
    "list of np.int64": lambda p, y, k: list(_solution(p, y, k)),
    "tuple": lambda p, y, k: tuple(_solution(p, y, k)),
    "int32 array": lambda p, y, k: _solution(p, y, k).astype(np.int32),
    "uint16 array": lambda p, y, k: _solution(p, y, k).astype(np.uint16),
    "empty list when none": lambda p, y, k: [int(i) for i in _solution(p, y, k)] or [],
    "ties the other way": _reverse_stable,
    "reference": check.reference_confident_mistakes,
}


@pytest.mark.parametrize("name", ACCEPTED)
def test_confident_mistakes_accepts_right_answers_in_any_integer_form(name, capsys):
    for seed in range(5):
        check.confident_mistakes(ACCEPTED[name], seed=seed)
    check.confident_mistakes(ACCEPTED[name])   # a fresh seed
    assert "correct" in capsys.readouterr().out


def test_confident_mistakes_draws_fresh_cases_each_call():
    seen = []

    def spy(probs, y_true, k):
        seen.append(probs.copy())
        return _solution(probs, y_true, k)

    check.confident_mistakes(spy)
    first = len(seen)
    check.confident_mistakes(spy)
    assert not np.array_equal(seen[0], seen[first]), "two calls drew the same case"
    shapes = {p.shape for p in seen[:first]}
    assert len({s[1] for s in shapes}) >= 3 and len({s[0] for s in shapes}) >= 5, shapes


def _frozen_answer():
    """What the old check's fixed cases (seed 7, 200x10, k=5) expected: a memorised answer."""
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(200, 10)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return check.reference_confident_mistakes(probs, rng.integers(0, 10, 200), 5)


def _sorts_in_place(probs, y_true, k):
    out = _solution(probs, y_true, k)
    probs.sort(axis=1)
    return out


def _needs_a_mistake(probs, y_true, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    top = probs[wrong, pred[wrong]].max()   # crashes when there is no mistake
    return wrong[np.argsort(-probs[wrong, pred[wrong]] / top)][:k]


def _raw_index_error(probs, y_true, k):
    ranked = _solution(probs, y_true, len(probs))
    return [int(ranked[i]) for i in range(k)]   # IndexError when there are fewer than k mistakes


def _ten_classes_only(probs, y_true, k):
    probs = probs.reshape(-1, 10)
    return _solution(probs, np.resize(y_true, len(probs)), k)


def _subset_positions(probs, y_true, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    return np.argsort(-probs[wrong, pred[wrong]])[:k]   # positions in `wrong`, not rows of probs


def _by_true_class(probs, y_true, k):
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    return wrong[np.argsort(probs[wrong, y_true[wrong]])][:k]


def _shuffled(probs, y_true, k):
    out = _solution(probs, y_true, k)
    return out[::-1] if len(out) > 2 else out


LOOPHOLES = {
    "placeholder": (lambda p, y, k: (_ for _ in ()).throw(NotImplementedError()), "not written yet"),
    "not a function": ([1, 2, 3], "should be a function"),
    "forgot return": (lambda p, y, k: None, "forget `return`"),
    "a string": (lambda p, y, k: "3 5 8", "string"),
    "float indices": (lambda p, y, k: _solution(p, y, k).astype(float), "integers, not floats"),
    "probabilities": (lambda p, y, k: p.max(axis=1)[_solution(p, y, k)], "probabilities, not row numbers"),
    "string indices": (lambda p, y, k: [str(i) for i in _solution(p, y, k)], "not integer indices"),
    "bool mask": (lambda p, y, k: p.argmax(axis=1) != y, "boolean mask"),
    "a set": (lambda p, y, k: set(_solution(p, y, k).tolist()), "no order"),
    "2-D": (lambda p, y, k: _solution(p, y, k)[:, None], "flat list"),
    "generator": (lambda p, y, k: (int(i) for i in _solution(p, y, k)), "not a list of indices"),
    "out of range": (lambda p, y, k: np.append(_solution(p, y, k)[:-1], len(p) + 5) if k else [len(p)],
                     "outside 0"),
    "negative index": (lambda p, y, k: [-1], "outside 0"),
    "least confident first": (lambda p, y, k: _solution(p, y, k)[::-1], "least confident first"),
    "unsorted": (_shuffled, "not sorted|least confident"),
    "sorted by true class": (_by_true_class, "true class|not the most confident|not sorted"),
    "any k mistakes": (lambda p, y, k: np.flatnonzero(p.argmax(axis=1) != y)[:k], "not the most confident|sorted"),
    "most confident overall": (lambda p, y, k: np.argsort(-p.max(axis=1))[:k], "got right"),
    "ignores k": (lambda p, y, k: _solution(p, y, len(p)), "expected"),
    "pads to k": (lambda p, y, k: np.resize(_solution(p, y, k), k) if k else [], "repeats|expected"),
    "duplicates": (lambda p, y, k: np.repeat(_solution(p, y, k)[:1], 2), "repeats|expected"),
    "memorised answer": (lambda p, y, k: _frozen_answer()[:k], ""),
    "mutates its inputs": (_sorts_in_place, "changed its inputs"),
    "crashes with no mistakes": (_needs_a_mistake, "raised ValueError"),
    "raw IndexError": (_raw_index_error, "raised IndexError"),
    "assumes 10 classes": (_ten_classes_only, ""),
    "positions in the subset": (_subset_positions, ""),
}


@pytest.mark.parametrize("name", LOOPHOLES)
def test_confident_mistakes_rejects_each_loophole_with_a_hint(name):
    fn, hint = LOOPHOLES[name]
    for seed in (0, 1, 2, None):
        with pytest.raises(ExerciseError, match=hint or None) as err:
            check.confident_mistakes(fn, seed=seed)
        assert err.value.hint


def test_confident_mistakes_names_the_failing_case_and_its_seed():
    with pytest.raises(ExerciseError, match=r"seed=123") as err:
        check.confident_mistakes(lambda p, y, k: _solution(p, y, k)[::-1], seed=123)
    assert "examples" in str(err.value)


def test_none_is_the_placeholder():
    with pytest.raises(ExerciseError, match="no answer"):
        check.confident_mistakes(None)
