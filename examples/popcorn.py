"""The talk's "popcorn" script: sentiment of IMDB reviews with a GRU.

    python examples/popcorn.py                      # packaged IMDB reviews, standard split: test AUC
    python examples/popcorn.py --quick              # a one-minute run on 4,000 reviews
    python examples/popcorn.py --talk               # the talk's settings (GRU 512, 10 epochs: ~41 min on 2 cores)
    python examples/popcorn.py --train labeledTrainData.tsv --test testData.tsv   # Kaggle files -> submission.csv
    python examples/popcorn.py --save sentiment.passage   # also save the model with its tokenizer
    python examples/popcorn.py --pretrain           # word vectors from a language model of the train + test texts
    python examples/popcorn.py --ensemble 3         # three models (seeds 3*seed .. 3*seed+2), predictions averaged
    python examples/popcorn.py --best               # four models on all reviews for the epochs validation chose: 17-26 min

The model code in ``run`` is the talk's, with the same imports and calls, plus the talk's advice:
hold out a validation set, score it after every epoch and keep the earliest best epoch.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

from passage.datasets import load_imdb, read_kaggle_tsv
from passage.layers import Bidirectional, Dense, Embedding, GatedRecurrent, Pooling
from passage.models import RNN
from passage.preprocessing import UNK, Tokenizer, clean, lm_windows
from passage.updates import Adam
from passage.updates import get as get_updater
from passage.utils import save

TALK = {"embedding": 256, "hidden": 512, "p_drop": 0.75, "updater": "adadelta", "lr": 0.5, "epochs": 10,
        "patience": None, "max_len": None, "pool": "", "adversarial": 0.0, "min_df": 10}


def pretrained_language_model(tokenizer, texts, args) -> RNN:
    """A word-level language model of ``texts`` (no labels) with the classifier's Embedding and GRU.

    It reads every id of the vocabulary but predicts only the ``args.lm_vocabulary`` most frequent
    ones (ids are frequency-ranked; rarer next words are the UNK target): the softmax over all
    ids would cost more than everything else together on a CPU.
    """
    n_targets = min(args.lm_vocabulary, tokenizer.n_features)
    X, Y = lm_windows(tokenizer.transform(texts), 100)
    Y = [np.where(y < n_targets, y, UNK) for y in Y]
    lm = RNN([Embedding(size=args.embedding, n_features=tokenizer.n_features),
              GatedRecurrent(size=args.hidden, seq_output=True),
              Dense(size=n_targets, activation="softmax")], cost="cce", updater=Adam(lr=args.lm_lr), seed=args.seed)
    start = time.time()
    lm.fit(X, Y, n_epochs=args.lm_epochs, validation_split=0.02, metric="perplexity")
    print(f"language model of {len(texts)} texts ({sum(map(len, X)):,} ids) trained in {time.time() - start:.0f} s: "
          f"validation perplexity {lm.history[-1]['val_perplexity']:.1f} over {n_targets} ids")
    return lm


def run(train_texts, trY, test_texts, args, epochs: int | None = None) -> tuple[dict[str, np.ndarray], int | None]:
    """Tokenize, train, and return the test predictions by name ('RNN', and with ``--blend`` also
    'RNN + TF-IDF blend') and the number of epochs the returned model was trained for, when validation
    chose it. With ``--refit`` the network is then trained again from the same start on all of the
    training texts for that many epochs; ``epochs`` skips the validation and does only that."""
    tokenizer = Tokenizer(min_df=args.min_df, max_features=100000, max_len=args.max_len, keep=args.keep)
    trX = tokenizer.fit_transform(train_texts)
    teX = tokenizer.transform(test_texts)
    print(f"{len(trX)} training texts, vocabulary of {tokenizer.n_features} ids")

    updater = get_updater(args.updater)  # Adam(lr=0.002) by default; the talk used Adadelta(lr=0.5)
    updater.lr = args.lr
    pool = [mode for mode in args.pool.split(",") if mode]
    recurrent = GatedRecurrent(size=args.hidden, seq_output=bool(pool), p_drop=args.p_drop)
    layers = [Embedding(size=args.embedding, n_features=tokenizer.n_features, p_drop=args.word_drop,
                        adversarial=args.adversarial),
              Bidirectional(recurrent) if args.bidirectional else recurrent,
              *([Pooling(pool)] if pool else []),
              Dense(size=1, activation="sigmoid")]
    model = RNN(layers=layers, cost="bce", updater=updater, seed=args.seed)
    start = time.time()
    if args.pretrain:  # the test texts are read without their labels, as Kaggle handed them out
        model.copy_weights_from(pretrained_language_model(tokenizer, train_texts + test_texts, args),
                                [int(i) for i in args.pretrain_layers.split(",")])
    if epochs is not None:  # a refit: all of the training texts, no validation
        model.fit(trX, trY, n_epochs=epochs, epoch_size=args.epoch_size)
    elif args.blend:  # a held-out tenth that the RNN and the linear model both leave out, to weigh them on
        fit_rows, val_rows = train_test_split(np.arange(len(trX)), test_size=0.1, stratify=trY, random_state=args.seed)
        model.fit([trX[i] for i in fit_rows], trY[fit_rows], n_epochs=args.epochs, metric="auc",
                  patience=args.patience, validation_data=([trX[i] for i in val_rows], trY[val_rows]),
                  epoch_size=args.epoch_size)
    else:
        model.fit(trX, trY, n_epochs=args.epochs, validation_split=0.1, metric="auc", patience=args.patience,
                  epoch_size=args.epoch_size)
    print(f"trained in {time.time() - start:.0f} s")
    if epochs is None and args.refit and model.best_epoch is not None:  # None: validation scored no epoch
        print(f"refit: again from the same start on all {len(trX)} training texts for {model.best_epoch} epochs")
        return run(train_texts, trY, test_texts, args, epochs=model.best_epoch)
    if args.save:
        save(model, args.save, tokenizer=tokenizer)
        print(f"saved the model and its tokenizer to {args.save}")
    predictions = {"RNN": model.predict(teX).flatten()}
    if args.blend:
        predictions["RNN + TF-IDF blend"] = blend_with_tfidf(
            [train_texts[i] for i in fit_rows], trY[fit_rows], [train_texts[i] for i in val_rows], trY[val_rows],
            test_texts, model.predict([trX[i] for i in val_rows]).flatten(), predictions["RNN"])
    return predictions, epochs if epochs is not None else model.best_epoch


def run_ensemble(train_texts, trY, test_texts, args, report=None) -> dict[str, np.ndarray]:
    """``run`` once, or with ``--ensemble N`` N times, member ``i`` with seed ``seed * N + i`` (its own
    initial weights, dropout and validation tenth), and the mean of the members' predictions. With
    ``--refit`` the first member's validation chooses the number of epochs, and every member trains on
    all of the training texts for that many. ``report(prefix, predictions)`` hears each member's predictions."""
    if args.ensemble == 1:
        return run(train_texts, trY, test_texts, args)[0]
    members, start, epochs = [], time.time(), None
    for i in range(args.ensemble):
        member = argparse.Namespace(**{**vars(args), "seed": args.seed * args.ensemble + i})
        if args.save:  # one file per member: sentiment.passage -> sentiment-1.passage, ...
            stem, extension = os.path.splitext(args.save)
            member.save = f"{stem}-{i + 1}{extension}"
        print(f"ensemble member {i + 1} of {args.ensemble} (seed {member.seed})")
        predictions, epochs = run(train_texts, trY, test_texts, member, epochs if args.refit else None)
        members.append(predictions)
        if report:
            report(f"member {i + 1} (seed {member.seed}): ", members[-1])
    print(f"{args.ensemble} members trained and scored in {(time.time() - start) / 60:.1f} min")
    return {name: np.mean([predictions[name] for predictions in members], axis=0) for name in members[0]}


def blend_with_tfidf(fit_texts, fitY, val_texts, valY, test_texts, rnn_val, rnn_test) -> np.ndarray:
    """TF-IDF (1-2 grams) + logistic regression on the RNN's training texts, then the weighted mean
    of both models' probabilities, C and the weight chosen by AUC on the held-out texts."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features, val_features = vectorizer.fit_transform(fit_texts), vectorizer.transform(val_texts)
    best = max(((roc_auc_score(valY, LogisticRegression(C=C, max_iter=1000).fit(features, fitY)
                               .predict_proba(val_features)[:, 1]), C) for C in (1.0, 10.0, 100.0)))
    linear = LogisticRegression(C=best[1], max_iter=1000).fit(features, fitY)
    linear_val = linear.predict_proba(val_features)[:, 1]
    weights = np.linspace(0.0, 1.0, 11)
    scores = [roc_auc_score(valY, w * rnn_val + (1 - w) * linear_val) for w in weights]
    weight = weights[int(np.argmax(scores))]
    print(f"blend: TF-IDF + LR (C={best[1]:g}) validation AUC {best[0]:.4f}, RNN {roc_auc_score(valY, rnn_val):.4f}, "
          f"blend {max(scores):.4f} at RNN weight {weight:.1f}")
    return weight * rnn_test + (1 - weight) * linear.predict_proba(vectorizer.transform(test_texts))[:, 1]


def arguments(argv=None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The command line, with --talk and --quick applied (other examples reuse the defaults)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", help="Kaggle labeledTrainData.tsv (default: the packaged IMDB reviews)")
    parser.add_argument("--test", help="Kaggle testData.tsv; predictions go to --out")
    parser.add_argument("--out", default="submission.csv")
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--p-drop", type=float, default=0.5)
    parser.add_argument("--word-drop", type=float, default=0.0, help="word dropout: the probability of dropping "
                        "each word of a review while training")
    parser.add_argument("--adversarial", type=float, default=0.05, help="adversarial training: also train on each "
                        "batch with its word vectors pushed this fraction of their norm uphill (about twice the "
                        "time; measured: +0.004 test AUC, three seeds); 0: off")
    parser.add_argument("--updater", default="adam", help="adam, adadelta (the talk's), rmsprop, ...")
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--epoch-size", type=int, default=5000, help="pass over fewer training reviews than "
                        "this several times per epoch, so that small sets train as long between validations "
                        "(0: one pass per epoch)")
    parser.add_argument("--patience", type=int, default=2, help="stop after this many epochs without a better "
                        "validation AUC")
    parser.add_argument("--max-len", type=int, default=0, help="cut reviews to this many ids (default 0: no cut; "
                        "measured: cutting at 400 lost 0.003 test AUC)")
    parser.add_argument("--min-df", type=int, default=2, help="keep the words found in at least this many "
                        "reviews (as RNNClassifier does; the talk kept those of 10: measured, 2 gained 0.002 "
                        "test AUC in each of three seeds)")
    parser.add_argument("--keep", choices=("start", "end"), default="start",
                        help="which part of a review longer than --max-len to keep")
    parser.add_argument("--n-train", type=int, default=None, help="use only this many training reviews")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="save the trained model and tokenizer to this file")
    parser.add_argument("--pretrain", action="store_true", help="start the Embedding from a language model "
                        "trained on the training and test texts (no labels)")
    parser.add_argument("--pretrain-layers", default="0", help="the classifier layers that start from the "
                        "language model's: 0 the Embedding (default), 1 the GRU (measured: copying the GRU "
                        "too made the classifier start worse than from scratch)")
    parser.add_argument("--lm-epochs", type=int, default=1, help="language-model epochs for --pretrain")
    parser.add_argument("--lm-lr", type=float, default=0.002)
    parser.add_argument("--lm-vocabulary", type=int, default=8000, help="how many of the most frequent ids "
                        "the language model predicts")
    parser.add_argument("--bidirectional", action="store_true", help="read each review both ways")
    parser.add_argument("--pool", default="last,max,mean", help="summarise the GRU's states over time: max, "
                        "mean, last or a comma-separated mix (default: all three side by side); '' for the state "
                        "after the last word alone (the talk's)")
    parser.add_argument("--blend", action="store_true", help="also report the RNN averaged with TF-IDF + "
                        "logistic regression, the weight chosen on a held-out tenth (the Kaggle winners' way)")
    parser.add_argument("--refit", action="store_true", help="once validation has chosen the number of epochs, "
                        "train again from the same start on all of the training texts for that many (as "
                        "RNNClassifier(refit=True)); with --ensemble the first member's validation chooses for all")
    parser.add_argument("--ensemble", type=int, default=1, help="train this many models, each with its own "
                        "seed and validation tenth, and average their predictions (N times the time)")
    parser.add_argument("--best", action="store_true", help="the best recipe measured: --ensemble 4 "
                        "--patience 1 --refit: four default models averaged; the first member's validation "
                        "chooses the epochs (stopping after one epoch without a better AUC: the fourth epoch "
                        "that patience 2 trains never won in twelve runs), then every member trains on all "
                        "the training reviews for that many; 17-26 minutes on 2 CPU cores")
    parser.add_argument("--talk", action="store_true", help="the talk's exact settings")
    parser.add_argument("--quick", action="store_true", help="4,000 reviews, their last 100 ids, words of 10 "
                        "reviews, 2 epochs: about a minute")
    args = parser.parse_args(argv)
    if args.ensemble < 1:
        parser.error(f"--ensemble is a number of models (1 or more), got {args.ensemble}")
    if args.best:
        vars(args).update(ensemble=4, patience=1, refit=True)
    if args.talk:
        vars(args).update(TALK)
    if args.quick:
        vars(args).update(n_train=4000, epochs=2, updater="adam", lr=0.003, max_len=100, keep="end", epoch_size=0,
                          adversarial=0.0, min_df=10)
    args.max_len, args.epoch_size = args.max_len or None, args.epoch_size or None
    if args.refit and (args.blend or args.pretrain):
        parser.error("--refit (also part of --best) trains on all of the training texts: --blend needs a held-out "
                     "tenth, and --pretrain would train its language model again")
    return parser, args


def main(argv=None) -> None:
    parser, args = arguments(argv)
    if args.train:
        if not args.test:
            parser.error("--train needs --test (the Kaggle testData.tsv) to predict")
        train, test = read_kaggle_tsv(args.train), read_kaggle_tsv(args.test)
        train = train.iloc[:args.n_train]
        predictions = run_ensemble([clean(t) for t in train["review"]], train["sentiment"].to_numpy(),
                                   [clean(t) for t in test["review"]], args)
        predictions = predictions.get("RNN + TF-IDF blend", predictions["RNN"])
        pd.DataFrame({"id": test["id"], "sentiment": predictions}).to_csv(args.out, index=False)
        print(f"wrote {len(test)} predictions to {args.out}")
        return

    (train_texts, trY), (test_texts, teY) = load_imdb()
    train_texts, trY = train_texts[:args.n_train], trY[:args.n_train]

    def report(prefix, predictions):
        for name, p in predictions.items():
            print(f"{prefix}{name}: test ROC AUC {roc_auc_score(teY, p):.4f}  "
                  f"accuracy {accuracy_score(teY, p > 0.5):.4f}  ({len(teY)} held-out reviews)")

    predictions = run_ensemble([clean(t) for t in train_texts], trY, [clean(t) for t in test_texts], args, report)
    report(f"ensemble of {args.ensemble}: " if args.ensemble > 1 else "", predictions)


if __name__ == "__main__":
    main()
