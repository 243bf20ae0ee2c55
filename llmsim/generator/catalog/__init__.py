"""Facts the generator draws from: model architectures and their Hub facts, GPUs,
datasets, software versions, names.
"""
