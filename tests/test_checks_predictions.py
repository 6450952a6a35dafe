"""Prediction questions: any well-formed prediction is committed; the verdict follows the run's numbers."""
from __future__ import annotations

import numpy as np
import pytest

from labkit.checks import ExerciseError, cifar10, diagnosis, optimisation, skewed, transfer
from labkit.checks.predictions import ChoicePrediction, NumberPrediction

Q = ChoicePrediction("q", "predicted", {"up": "", "down": "down is wrong because of X.", "same": "same: Y."},
                     "think about it")


def test_commit_accepts_every_option_in_any_case(capsys):
    for answer in ("up", "DOWN", " Same "):
        Q.commit(answer)
    assert capsys.readouterr().out.count("committed") == 3


@pytest.mark.parametrize("answer, match", [
    (None, "no answer yet"), (..., "no answer yet"), (1, "one of the strings"), (["up"], "one of the strings"),
    ("sideways", "not one of the choices"), ("", "not one of the choices"),
])
def test_commit_rejects_malformed_predictions(answer, match):
    with pytest.raises(ExerciseError, match=match):
        Q.commit(answer)


def test_verdict_follows_the_measured_outcome_not_a_stored_answer(capsys):
    Q.verdict("down", "down", "x fell", "because.")
    assert "correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="measured 'up'") as err:
        Q.verdict("down", "up", "x rose", "because.")
    assert "down is wrong because of X." in str(err.value) and "Why: because." in str(err.value)


def test_a_choice_needs_two_options_and_an_outcome_among_them():
    with pytest.raises(ValueError, match="two options"):
        ChoicePrediction("q", "p", {"only": ""}, "h")
    with pytest.raises(ValueError, match="not one of the options"):
        Q.verdict("up", "left", "", "")


N = NumberPrediction("n", "predicted", "hint", tolerance=0.01, min_val=0, max_val=1,
                     slips={0.1: "0.1 is the slip."}, slip_tolerance=0.005)


def test_number_prediction_accepts_numeric_types_and_judges_by_tolerance(capsys):
    for value in (0.5, np.float32(0.5), np.array(0.5), 1, np.int64(0)):
        N.commit(value)
    N.verdict(np.float64(0.505), 0.5, "why")
    assert "correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="0.1 is the slip"):
        N.verdict(0.102, 0.5, "why")
    with pytest.raises(ExerciseError, match="measured 0.5"):
        N.verdict(0.7, 0.5, "why")


@pytest.mark.parametrize("value, match", [
    (None, "no answer yet"), ("0.5", "string"), (True, "bool"), (float("nan"), "not a finite"), ([0.5], "list"),
    (1.5, "outside the possible range"), (-0.1, "outside the possible range"),
])
def test_number_prediction_rejects_malformed_values(value, match):
    with pytest.raises(ExerciseError, match=match):
        N.commit(value)


# --------------------------------------------------------------- the labs' questions: outcome from the numbers
@pytest.mark.parametrize("var_gain, bias_gain, outcome", [
    (0.08, 0.01, "high variance"), (0.01, 0.08, "high bias"), (0.05, 0.04, "about the same"),
])
def test_diagnosis_data_gain_verdict(var_gain, bias_gain, outcome, capsys):
    diagnosis.data_gain_verdict(outcome, var_gain, bias_gain)
    assert "correct" in capsys.readouterr().out
    wrong = next(o for o in ("high variance", "high bias", "about the same") if o != outcome)
    with pytest.raises(ExerciseError, match=f"measured '{outcome}'"):
        diagnosis.data_gain_verdict(wrong, var_gain, bias_gain)


@pytest.mark.parametrize("bn, base, outcome", [(0.7, 0.4, "faster"), (0.3, 0.5, "slower"),
                                               (0.5, 0.51, "about the same")])
def test_cifar10_batch_norm_verdict(bn, base, outcome):
    cifar10.batch_norm_verdict(outcome, bn, base)
    with pytest.raises(ExerciseError, match="regulariser" if outcome != "slower" else "measured 'slower'"):
        cifar10.batch_norm_verdict("slower" if outcome != "slower" else "faster", bn, base)


@pytest.mark.parametrize("ratio, outcome", [(1e-6, "shrinks"), (50.0, "grows"), (0.5, "about the same")])
def test_optimisation_gradient_verdict(ratio, outcome):
    optimisation.gradient_verdict(outcome, ratio)
    with pytest.raises(ExerciseError):
        optimisation.gradient_verdict("grows" if outcome != "grows" else "shrinks", ratio)


@pytest.mark.parametrize("few, most, outcome", [(0.3, 0.1, "shrinks"), (0.1, 0.3, "grows"),
                                                (0.2, 0.195, "about the same")])
def test_transfer_gain_verdict(few, most, outcome):
    transfer.gain_verdict(outcome, few, most)
    with pytest.raises(ExerciseError):
        transfer.gain_verdict("grows" if outcome != "grows" else "shrinks", few, most)


def test_skewed_baseline_accuracy_prediction_and_its_slips():
    skewed.baseline_accuracy_prediction(0.99)
    skewed.baseline_accuracy_verdict(0.99, 0.991)
    for wrong, match in [(0.009, "share of sandals"), (0.0, "recall"), (0.5, "coin flip"), (1.0, "not perfect")]:
        with pytest.raises(ExerciseError, match=match):
            skewed.baseline_accuracy_verdict(wrong, 0.991)


def test_lab_verdicts_refuse_bad_measurements_as_programming_errors():
    with pytest.raises(TypeError):
        diagnosis.data_gain_verdict("high bias", "0.1", 0.2)
    with pytest.raises(ValueError):
        cifar10.batch_norm_verdict("faster", 1.5, 0.2)
    with pytest.raises(ValueError):
        optimisation.gradient_verdict("shrinks", float("nan"))
