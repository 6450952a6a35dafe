from __future__ import annotations

import json
import math

import numpy as np
import pytest

import labkit


def test_record_appends_json_lines(tmp_path, monkeypatch):
    out = tmp_path / "r.jsonl"
    monkeypatch.setenv("LABKIT_RESULTS", str(out))
    monkeypatch.setenv("LABKIT_PROFILE", "quick")
    labkit.record("mnist.cnn.test_accuracy", np.float32(0.5))
    labkit.record("mnist.seconds", 12)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in rows] == ["mnist.cnn.test_accuracy", "mnist.seconds"]
    assert rows[0]["value"] == 0.5 and rows[0]["profile"] == "quick"
    assert labkit.recorded()["mnist.seconds"] == 12


@pytest.mark.parametrize("key", ["", "has space", "a..b"])
def test_record_rejects_bad_keys(key):
    with pytest.raises(ValueError, match="record key"):
        labkit.record(key, 1)


@pytest.mark.parametrize("key", [None, 3])
def test_record_rejects_keys_that_are_not_strings_with_type_error(key):
    with pytest.raises(TypeError, match="record key"):
        labkit.record(key, 1)


def test_a_cell_ending_in_record_displays_nothing():
    # IPython shows a cell's last expression unless it is None: a recorded time shown there
    # would be a volatile output in every notebook.
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        result = shell.run_cell('import labkit\nlabkit.record("x.seconds", 12.5)', store_history=True)
        assert result.success and result.result is None
        assert labkit.recorded()["x.seconds"] == 12.5
    finally:
        InteractiveShell.clear_instance()


def test_record_rejects_a_non_finite_value():
    with pytest.raises(ValueError, match="value must be a finite number"):
        labkit.record("x.y", math.nan)


@pytest.mark.parametrize("value", [[1, 2], {"a": 1}])
def test_record_rejects_values_of_other_types_with_type_error(value):
    with pytest.raises(TypeError, match="value must be a number, a bool or a string"):
        labkit.record("x.y", value)


def _train_once(seed):
    import keras

    labkit.seed_everything(seed)
    x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, shuffle=True)
    return np.concatenate([w.ravel() for w in model.get_weights()])


def test_seed_everything_makes_training_repeatable():
    a, b, c = _train_once(1), _train_once(1), _train_once(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_seed_everything_rejects_out_of_range_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        labkit.seed_everything(seed)


@pytest.mark.parametrize("seed", [1.5, "0", True])
def test_seed_everything_rejects_non_integer_seeds(seed):
    with pytest.raises(TypeError, match="seed must be an integer"):
        labkit.seed_everything(seed)


def test_seed_everything_reads_labkit_seed(monkeypatch):
    monkeypatch.setenv("LABKIT_SEED", "7")
    assert labkit.seed_everything() == 7
    monkeypatch.setenv("LABKIT_SEED", "")
    assert labkit.seed_everything() == 0
    monkeypatch.delenv("LABKIT_SEED")
    assert labkit.seed_everything() == 0
    a = np.random.rand()
    monkeypatch.setenv("LABKIT_SEED", "0")
    labkit.seed_everything()
    assert np.random.rand() == a   # the environment's seed seeds exactly as the argument does


@pytest.mark.parametrize("raw, error", [("one", "is not an integer"), ("1.5", "is not an integer"),
                                        ("-3", "LABKIT_SEED must be in")])
def test_seed_everything_names_a_bad_labkit_seed(monkeypatch, raw, error):
    monkeypatch.setenv("LABKIT_SEED", raw)
    with pytest.raises(ValueError, match=error) as info:
        labkit.seed_everything()
    assert "LABKIT_SEED" in str(info.value)


def test_quiet_tensorflow_hides_only_the_listed_noise():
    """Keras' own advice stays visible (EarlyStopping on a metric that is not logged);
    only the messages in NOISY_WARNINGS are hidden, from wherever they come."""
    import warnings

    import keras

    from labkit import repro

    x = np.zeros((8, 2), dtype="float32")
    y = np.zeros(8, dtype="int64")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        repro.quiet_tensorflow()
        model.fit(x, y, epochs=1, verbose=0, callbacks=[keras.callbacks.EarlyStopping("val_loss")])
        for message, category in repro.NOISY_WARNINGS:
            exec(f"import warnings; warnings.warn({message + ' (probe)'!r}, {category.__name__})",
                 {"__name__": "keras.src.probe", category.__name__: category})
    texts = [str(w.message) for w in caught]
    assert any("Early stopping conditioned on metric `val_loss` which is not available" in t for t in texts), texts
    assert not [t for t in texts if t.endswith("(probe)")], texts


def test_seed_everything_leaves_pythonhashseed_alone(monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    labkit.seed_everything(3)
    assert "PYTHONHASHSEED" not in __import__("os").environ  # set in a running process it would do nothing


def test_stored_benchmark_finds_the_newest_run_from_below(tmp_path):
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "recipe_ablation_2026-11-30.json").write_text('{"run": "old"}')
    (results / "recipe_ablation_2026-12-02.json").write_text('{"run": "new"}')
    (results / "recipe_ablation_extra_2026-12-09.json").write_text('{"run": "another benchmark"}')
    below = tmp_path / "notebooks" / "_work"
    below.mkdir(parents=True)
    found, path = labkit.stored_benchmark("recipe_ablation", start=below)
    assert found == {"run": "new"} and path == str(results / "recipe_ablation_2026-12-02.json")
    assert labkit.stored_benchmark("bench_mnist", start=below) is None


def test_stored_benchmark_refuses_bad_names_and_names_a_broken_file(tmp_path):
    for bad in ("../x", "Recipe", "", 3):
        with pytest.raises(ValueError, match="benchmark's name"):
            labkit.stored_benchmark(bad, start=tmp_path)
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "broken_2026-12-02.json").write_text("{not json")
    with pytest.raises(ValueError, match="broken_2026-12-02.json"):
        labkit.stored_benchmark("broken", start=tmp_path)
