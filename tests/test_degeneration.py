from selfmoa.evals.degeneration import distinct_n, is_degenerate, ngram_loop, repeats_sentence


def test_repeated_sentence():
    looped = "I can't help with that. Please provide more details. I can't help with that."
    assert repeats_sentence(looped) and is_degenerate(looped)
    assert not repeats_sentence("Boil water. Add the pasta. Cook for nine minutes.")
    assert not repeats_sentence("Yes. Yes. Yes."), "sentences under three words do not count"


def test_ngram_loop():
    assert ngram_loop("the cat sat on the cat sat on the cat sat on")
    assert not ngram_loop("the cat sat on the mat and then the dog sat on the rug")


def test_distinct_n_by_hand():
    # words: a b a b -> bigrams (a b) (b a) (a b): 2 distinct of 3
    assert distinct_n(["a b a b"], 2) == round(2 / 3, 4)
    assert distinct_n(["a b", "a b"], 1) == 0.5
    assert distinct_n(["", "x"], 2) is None
