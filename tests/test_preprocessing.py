import json

import numpy as np

import pytest

from passage.preprocessing import PAD, UNK, Tokenizer, clean, tokenize

TEXTS = ["the movie was great!", "The plot was thin.", "great acting, great music", "the end"]


def test_word_tokens_split_punctuation_and_keep_contractions():
    assert tokenize("Don't watch it... great!") == ["Don't", "watch", "it", ".", ".", ".", "great", "!"]
    assert tokenize("naïve café 😀!") == ["naïve", "café", "😀", "!"]


def test_exact_ids_in_document_frequency_order_with_stable_ties():
    tokenizer = Tokenizer(min_df=1).fit(TEXTS)
    # df: the 3, was 2, great 2, then 1 each in string order
    assert tokenizer.vocabulary[:3] == ["the", "great", "was"]
    assert tokenizer.vocabulary[3:] == sorted(tokenizer.vocabulary[3:])
    assert tokenizer.transform(["the great was"]) == [[2, 3, 4]]
    assert tokenizer.n_features == len(tokenizer.vocabulary) + 2


def test_unknown_tokens_get_unk_and_pad_is_never_emitted():
    tokenizer = Tokenizer(min_df=1).fit(TEXTS)
    ids = tokenizer.transform(["the zebra"])[0]
    assert ids == [2, UNK]
    assert all(i != PAD for seq in tokenizer.transform(TEXTS) for i in seq)


def test_min_df_and_max_features_boundaries():
    assert Tokenizer(min_df=2).fit(TEXTS).vocabulary == ["the", "great", "was"]
    assert Tokenizer(min_df=3).fit(TEXTS).vocabulary == ["the"]
    tokenizer = Tokenizer(min_df=1, max_features=4).fit(TEXTS)
    assert tokenizer.n_features == 4 and tokenizer.vocabulary == ["the", "great"]
    with pytest.raises(ValueError, match="at least 3"):
        Tokenizer(max_features=2)


def test_character_mode_keeps_every_character():
    tokenizer = Tokenizer(min_df=1, character=True, lowercase=False).fit(["ab a", "b!"])
    assert tokenizer.vocabulary == ["b", " ", "!", "a"]  # b in 2 texts; then string order
    assert tokenizer.inverse_transform(tokenizer.transform(["ab a"])) == ["ab a"]


def test_inverse_round_trip_and_lowercase():
    tokenizer = Tokenizer(min_df=1).fit(TEXTS)
    assert tokenizer.inverse_transform(tokenizer.transform(["The MOVIE was great!"])) == ["the movie was great !"]
    assert tokenizer.inverse_transform([[2, UNK, PAD]]) == ["the <unk>"]


def test_odd_documents_are_kept():
    tokenizer = Tokenizer(min_df=1)
    ids = tokenizer.fit_transform(["", "   ", "😀😀", "ünïcödé", "\n\t"])
    assert len(ids) == 5
    assert ids[0] == [] and ids[1] == [] and ids[4] == []
    assert tokenizer.transform(["qqq zzz"]) == [[UNK, UNK]]


def test_max_len_truncates_without_dropping_and_says_so(caplog):
    texts = ["a b c d e f", "a b"]
    start = Tokenizer(min_df=1, max_len=3).fit(texts)
    end = Tokenizer(min_df=1, max_len=3, keep="end").fit(texts)
    with caplog.at_level("INFO", logger="passage"):
        cut = start.transform(texts)
    assert "cut 1 of 2 texts" in caplog.text
    assert start.inverse_transform(cut) == ["a b c", "a b"]
    assert end.inverse_transform(end.transform(texts)) == ["d e f", "a b"]


def test_deterministic_and_json_round_trip():
    a = Tokenizer(min_df=1).fit(TEXTS)
    b = Tokenizer(min_df=1).fit(list(reversed(TEXTS)))
    assert a.vocabulary == b.vocabulary
    rebuilt = Tokenizer.from_config(json.loads(json.dumps(a.get_config())))
    assert rebuilt.transform(TEXTS) == a.transform(TEXTS)
    assert rebuilt.n_features == a.n_features


def test_unfitted_and_non_string_input_get_clear_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Tokenizer().transform(["x"])
    with pytest.raises(TypeError, match="text 1 is a int"):
        Tokenizer(min_df=1).fit(["ok", 3])


@pytest.mark.parametrize("html, text", [
    ("I <b>loved</b> it.<br /><br />Really.", "i loved it.  really."),
    ("", ""),
    ("plain text, no tags", "plain text, no tags"),
    ("<p>broken <i>markup", "broken markup"),
    ("<<<>>>", "<<<>>>"),
    ("   <br/>  ", ""),
])
def test_clean_keeps_every_document(html, text):
    assert clean(html) == text


def test_lm_windows_targets_are_the_inputs_shifted_by_one():
    from passage.preprocessing import lm_windows

    sequences = [list(range(10, 21)), [5], [7, 8], []]
    X, Y = lm_windows(sequences, 4)
    assert [x.tolist() for x in X] == [[10, 11, 12, 13], [14, 15, 16, 17], [18, 19], [7]]
    assert [y.tolist() for y in Y] == [[11, 12, 13, 14], [15, 16, 17, 18], [19, 20], [8]]
    targets = np.concatenate([y for x, y in zip(X, Y) if x[0] >= 10])
    assert targets.tolist() == list(range(11, 21))  # every id after the first is a target once
    X, Y = lm_windows([list(range(10))], 4, stride=2)
    assert all(np.array_equal(x[1:], y[:-1]) and y[-1] == x[-1] + 1 for x, y in zip(X, Y))
    assert X[1].tolist() == [2, 3, 4, 5] and X[0].dtype == np.int32
    with pytest.raises(ValueError, match="length"):
        lm_windows(sequences, 0)


def test_mark_ends_adds_begin_and_end_ids_and_character_mode_round_trips_text():
    from passage.preprocessing import BOS, EOS

    text = "Ça va? «Oui» — 3 cafés,\n  s'il vous plaît!"
    tokenizer = Tokenizer(min_df=1, character=True, lowercase=False, mark_ends=True)
    ids = tokenizer.fit_transform([text])[0]
    assert ids[0] == BOS == 2 and ids[-1] == EOS == 3 and min(ids[1:-1]) >= 4
    assert tokenizer.inverse_transform([ids]) == [text]
    assert tokenizer.n_features == len(set(text)) + 4
    assert Tokenizer.from_config(tokenizer.get_config()).transform([text]) == [ids]
    old = Tokenizer(min_df=1).fit(["a b"]).get_config()
    del old["mark_ends"]  # a file written before mark_ends existed
    assert Tokenizer.from_config(old).transform(["a b"]) == Tokenizer(min_df=1).fit(["a b"]).transform(["a b"])
