"""Passage: recurrent neural networks for text, on PyTensor."""
__version__ = "0.3.0"
