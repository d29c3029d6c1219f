"""neurograph: graph spiking neural networks from PyTorch to Lava, with energy reports.

The Python API (``neurograph.api``, documented in docs/api.md) is importable from here::

    import neurograph as ng
    trained = ng.train_model(ng.run_config("gcsnn", "cora", epochs=50), out="runs/api/model.pt")
    compiled = ng.compile_model(trained)
    run = ng.run(compiled.fixed_net, [compiled.sample], engine="lava", out="runs/api")
    print(run.agreement, ng.report(run)["energy"]["ratios"])

Kept import-light on purpose: ``import neurograph`` imports neither torch nor Lava;
each API name is loaded on first use (module ``__getattr__``). ``neurograph.compile``
and ``neurograph.sim`` are subpackages, and the simulator side must not pull in torch.
"""
import warnings

__version__ = "0.1.0"

# torch 2.14 deprecates torch.jit.script and warns (FutureWarning) on every call; torch_geometric
# 2.8 calls it while importing (torch_geometric/nn/pool/select/base.py), which every training-side
# module of neurograph triggers. Only that message, from torch.jit, is silenced -- before any
# neurograph module can import torch_geometric (this package is always initialised first).
warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning,
                        module=r"torch\.jit\._script")

# public name -> module that defines it (loaded on first access). No name may equal a submodule's
# (neurograph.train, neurograph.config, ...): importing that submodule would replace the attribute.
_API = {name: "neurograph.api" for name in (
    "run_config", "load_graph", "train_model", "load_trained", "Trained", "compile_model", "Compiled", "check_exportable",
    "ExportError", "to_sample", "Sample", "load_samples", "save_samples", "load_network", "save_network",
    "run", "Run", "count", "report", "compare")}

__all__ = ["__version__", *_API]


def __getattr__(name):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'neurograph' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value          # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_API))
