"""Scoring at scale: reviews per second with ``passage.dask`` on a local cluster of 2 worker
processes x 1 thread, against one process with 1 thread, on the same files (``pip install .[dask]``).

The IMDB test reviews (cleaned once) are repeated to ``--n`` rows and written as parquet files of
``--rows-per-file`` rows; both sides read those files themselves, so the figure counts reading,
tokenizing and the network, as a job on stored data would. The model is a ``passage.sklearn``
``RNNClassifier`` with its default sizes (Embedding 128, GRU 128, 400 ids), trained for one epoch
on 1,000 reviews: its weights do not change the cost of scoring. Both sides are warmed up first
(each worker loads the model and compiles); every figure is the median of ``--repeats`` runs, each
on a fresh cluster.

    python benchmarks/bench_dask.py               # 200,000 reviews
    python benchmarks/bench_dask.py --n 20000 --repeats 1

Per-core efficiency = (cluster reviews/s / 2) / (one process's reviews/s). "1 thread" alone does
not hold a process to one core (XLA's runtime keeps helper threads: an unpinned "single-threaded"
scorer used 1.4 cores here), so the single process is pinned to one core and each worker to its
own core (every thread, ``sched_setaffinity``); the scheduler and client are not pinned.
"""
from __future__ import annotations

import os

# one thread per process, on both sides, before numpy or jax start their thread pools
os.environ.update(XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
                  OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

import argparse  # noqa: E402
import glob  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def write_files(folder: str, n: int, rows_per_file: int) -> list[str]:
    from passage.datasets import load_imdb
    from passage.preprocessing import clean

    (_, _), (texts, _) = load_imdb()
    texts = [clean(t) for t in texts]
    rows = [texts[i % len(texts)] for i in range(n)]
    paths = []
    for part, start in enumerate(range(0, n, rows_per_file)):
        path = os.path.join(folder, f"part-{part:04d}.parquet")
        pd.DataFrame({"text": rows[start:start + rows_per_file]}).to_parquet(path)
        paths.append(path)
    return paths


def train_model(path: str) -> None:
    from passage.datasets import load_imdb
    from passage.preprocessing import clean
    from passage.sklearn import RNNClassifier

    (texts, labels), _ = load_imdb()
    RNNClassifier(epochs=1, random_state=0, validation_split=0.0).fit([clean(t) for t in texts[:1000]],
                                                                       labels[:1000]).save(path)


def one_process(model_path: str, files: list[str]) -> float:
    """Seconds to score every file in this process, pinned to one core, one file (chunk) at a time."""
    from passage.dask import predict_partition

    cores = os.sched_getaffinity(0)
    pin({min(cores)})
    try:
        start = time.perf_counter()
        for path in files:
            predict_partition(pd.read_parquet(path)["text"], model_path)
        return time.perf_counter() - start
    finally:
        pin(cores)


def pin(cores) -> None:
    """Hold every thread of this process (and the threads they start) to ``cores``."""
    for thread in os.listdir("/proc/self/task"):
        os.sched_setaffinity(int(thread), cores)


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--rows-per-file", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    import passage.dask

    folder = tempfile.mkdtemp(prefix="bench_dask_")
    model_path = os.path.join(folder, "model.passage")
    train_model(model_path)
    files = write_files(folder, args.n, args.rows_per_file)
    print(f"{args.n:,} reviews in {len(files)} parquet files of {args.rows_per_file:,}; "
          f"model {os.path.getsize(model_path) / 1e6:.1f} MB")

    one_process(model_path, files[:1])  # warm-up: load and compile
    single = [one_process(model_path, files) for _ in range(args.repeats)]
    single_rate = args.n / float(np.median(single))
    print(f"one process, 1 thread:      {single_rate:8.0f} reviews/s  (runs {', '.join(f'{s:.1f}' for s in single)} s; "
          f"peak memory {peak_mb():.0f} MB)")

    runs, workers = [], {}
    for _ in range(args.repeats):  # a fresh cluster each run: Dask would hand a repeated graph its old result
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            for core, worker in enumerate(sorted(client.scheduler_info()["workers"])):
                client.run(pin, {core % os.cpu_count()}, workers=[worker])
            client.run(lambda: passage.dask.predict_partition(pd.read_parquet(files[0])["text"], model_path))  # warm
            texts = dd.read_parquet(os.path.join(folder, "part-*.parquet"))["text"]
            start = time.perf_counter()
            scored = passage.dask.predict(model_path, texts).compute()
            runs.append(time.perf_counter() - start)
            assert len(scored) == args.n
            workers = client.run(peak_mb)
    cluster_rate = args.n / float(np.median(runs))
    print(f"dask, 2 workers x 1 thread: {cluster_rate:8.0f} reviews/s  (runs {', '.join(f'{s:.1f}' for s in runs)} s; "
          f"worker peak memory {', '.join(f'{m:.0f}' for m in workers.values())} MB)")
    print(f"per-core efficiency: {cluster_rate / 2 / single_rate:.0%}  (speed-up {cluster_rate / single_rate:.2f}x "
          f"on 2 cores; {os.cpu_count()} cores on this machine)")
    for path in glob.glob(os.path.join(folder, "*")):
        os.unlink(path)
    os.rmdir(folder)


if __name__ == "__main__":
    main()
