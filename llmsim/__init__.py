"""llmsim: make a terminal look like a large language model is being trained on a GPU cluster."""

__version__ = "0.1.0"
