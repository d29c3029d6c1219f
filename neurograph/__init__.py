"""neurograph: graph spiking neural networks from PyTorch to Lava, with energy reports.

Kept import-light on purpose: ``neurograph.compile`` and ``neurograph.sim`` are
subpackages, and the simulator side must not pull in torch.
"""
__version__ = "0.1.0"
