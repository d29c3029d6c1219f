"""Neuron kinds as plug-ins: one module per kind, one registration each.

A :class:`NeuronKind` says everything the toolchain needs about a kind of
compartment, so no other module compares kind names:

* its parameters and their fixed-point bit widths (``check`` validates them),
* its output: a binary ``spike``, a ``graded`` payload, or ``none`` (a readout
  that only integrates),
* its float and fixed-point dynamics for the reference executor (``step``),
  written once and reused by the Lava process models where they are ours,
* how quantization turns its float parameters into integers (``quantize``),
* its Lava process (``lava_process``): Lava's own, or by default our KindStep running ``step``,
* whether it only forwards its summed input (``forwards_input``, the relay): such a kind may be
  fused into a GraphConv, and its update counts as active exactly when it sends a payload.

Adding a kind: write a module here that subclasses :class:`NeuronKind` and add
one line to ``_REGISTERED`` below (see docs/extending.md).
"""
from __future__ import annotations

import importlib
from typing import Dict, List, Optional

import numpy as np

class NeuronKind:
    """Base class: the interface every kind implements. Subclasses set the class attributes."""
    name: str = ""
    output: str = "spike"            # spike | graded | none
    readout: bool = False            # its final membrane potential can be the network's readout
    # fixed-domain parameter -> (bits, signed), for documentation and reports
    params: Dict[str, tuple] = {}
    help: str = ""
    # a graded kind whose payload is its summed input, stateless (the relay): the fused lowering
    # may fold it into a GraphConv process
    forwards_input: bool = False
    # the membrane read out holds the summed input shifted left by this (Lava's LIF voltage: a << 6)
    membrane_shift: int = 0

    @property
    def spiking(self) -> bool:
        return self.output == "spike"

    @property
    def graded(self) -> bool:
        return self.output == "graded"

    # ---- IR ----------------------------------------------------------------------------
    def check(self, pop, domain: str, where: str) -> None:
        """Raise IRError (naming `where`) when `pop`'s parameters do not fit this kind in `domain`."""

    def output_bound(self, pop, input_bound: int) -> int:
        """Largest |output| in the fixed domain, given the largest |summed input| it can receive."""
        return 1 if self.spiking else 0

    # ---- dynamics ------------------------------------------------------------------------
    def init_state(self, pop, num_nodes: int, fixed: bool) -> dict:
        raise NotImplementedError

    def step(self, pop, state: dict, a: np.ndarray, fixed: bool, events: Dict[str, int]) -> Optional[np.ndarray]:
        """Advance one step with summed synaptic input `a` (N, F); return the output sent this step
        (bool spikes, integer/float payload) or None for a kind that sends nothing. Saturation and
        wrap events are added to `events` under the kind's own keys."""
        raise NotImplementedError

    def membrane(self, state: dict) -> np.ndarray:
        """The state read out at the end of a window (readout kinds)."""
        raise NotImplementedError(f"{self.name} has no membrane readout")

    # ---- compilation ---------------------------------------------------------------------
    def quantize(self, pop, scale: float) -> None:
        """Float parameters -> fixed-point integers, for input current scale `scale` (a_in per float unit)."""

    def scale_limits(self, pop) -> List[float]:
        """Upper bounds this kind's parameters put on the activation scale (see quantize.py)."""
        return []

    def lava_process(self, pop, num_nodes: int, context):
        """Build the Lava process: returns (process, in_port, out_port or None). By default our
        KindStep process, whose model runs this kind's `step`; kinds that map onto a stock Lava
        process (LIF, GradedVec) or have no output (the readout) override it."""
        from neurograph.compile.lava.processes import KindStep
        proc = KindStep(population=pop, num_nodes=num_nodes, error_path=context.error_path(pop.name), name=pop.name)
        return proc, proc.a_in, proc.s_out


_REGISTERED = {
    "relay": "neurograph.compile.kinds.relay:Relay",
    "if": "neurograph.compile.kinds.lif:IF",
    "lif": "neurograph.compile.kinds.lif:LIF",
    "lif_subtract": "neurograph.compile.kinds.lif_subtract:LIFSubtract",
    "integrator": "neurograph.compile.kinds.integrator:Integrator",
    "vsn": "neurograph.compile.kinds.vsn:VSN",
}
_instances: Dict[str, NeuronKind] = {}


def kind_names() -> tuple:
    return tuple(_REGISTERED)


def get_kind(name: str) -> NeuronKind:
    """The registered kind called `name` (an IRError-like ValueError names the choices)."""
    if name not in _instances:
        if name not in _REGISTERED:
            from neurograph.compile.ir import IRError
            raise IRError(f"unknown neuron kind {name!r}; registered kinds: {list(_REGISTERED)}")
        module, cls = _REGISTERED[name].split(":")
        _instances[name] = getattr(importlib.import_module(module), cls)()
    return _instances[name]
