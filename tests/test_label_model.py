"""Dawid-Skene on synthetic judges with known accuracies and abstentions."""

import numpy as np

from selfmoa.judges.label_model import DawidSkene, majority_vote


def synthetic(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.3
    accuracies = np.array([0.95, 0.6, 0.6, 0.6, 0.85])
    abstain = np.array([0.5, 0.1, 0.1, 0.1, 0.3])
    correct = rng.random((n, len(accuracies))) < accuracies
    votes = np.where(correct, truth[:, None], ~truth[:, None]).astype(float)
    votes[rng.random(votes.shape) < abstain] = np.nan
    return truth, votes, accuracies


def test_label_model_beats_majority_vote_and_recovers_accuracies():
    truth, votes, accuracies = synthetic()
    model = DawidSkene().fit(votes)
    posterior = model.predict_proba(votes)
    label_model_accuracy = np.mean((posterior >= 0.5) == truth)
    majority = majority_vote(votes)
    majority_accuracy = np.mean((majority > 0.5) == truth)  # ties count as 0
    assert label_model_accuracy > majority_accuracy + 0.03
    assert np.allclose(model.accuracies(), accuracies, atol=0.05)
    assert abs(model.prior - 0.3) < 0.03


def test_label_model_probabilities_are_calibrated():
    truth, votes, _ = synthetic(seed=1)
    posterior = DawidSkene().fit(votes).predict_proba(votes)
    for low, high in ((0.0, 0.2), (0.8, 1.0)):
        band = (posterior >= low) & (posterior < high + 1e-9)
        assert band.sum() > 100
        assert abs(truth[band].mean() - posterior[band].mean()) < 0.05


def test_all_abstaining_item_gets_the_prior():
    votes = np.array([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0], [np.nan, np.nan]] * 10)
    model = DawidSkene().fit(votes)
    assert abs(model.predict_proba(votes)[3] - model.prior) < 1e-9


def test_votes_from_scores_keeps_abstentions():
    votes = DawidSkene.votes_from_scores(np.array([0.2, 0.7, np.nan, 0.5]))
    assert votes[0] == 0 and votes[1] == 1 and np.isnan(votes[2]) and votes[3] == 1
