"""Integrator: a non-spiking compartment whose final membrane potential is the readout.

Exactly Lava's LIF voltage update with du=4095, dv=leak and no threshold (our
MembraneReadout process runs this module's step), so the readout has the same
integer semantics as the spiking layers: v = sat24(trunc0(v (4096-dv)/4096) + wrap24(a << 6) + bias).
"""
from __future__ import annotations

import numpy as np

from neurograph.compile.fixed_point import ACT_SHIFT

from neurograph.compile.kinds import NeuronKind
from neurograph.compile.kinds.lif import (check_threshold_leak_bias, integrate_fixed, quantize_threshold_leak_bias,
                                          threshold_scale_limits)


class Integrator(NeuronKind):
    name = "integrator"
    output = "none"
    readout = True
    membrane_shift = ACT_SHIFT
    params = {"leak (dv)": (12, False), "bias mantissa": (13, True), "bias_exp": (3, False)}
    help = "non-spiking integrator; its membrane potential at the end of each window is the readout"

    def check(self, pop, domain, where):
        check_threshold_leak_bias(pop, domain, where, needs_threshold=False)

    def init_state(self, pop, num_nodes, fixed):
        return {"v": np.zeros((num_nodes, pop.features), dtype=np.int64 if fixed else np.float64)}

    def step(self, pop, state, a, fixed, events):
        if fixed:
            state["v"] = integrate_fixed(pop, state["v"], a, events)
        else:
            state["v"] = (1.0 - pop.leak) * state["v"] + a + (0.0 if pop.bias is None else pop.bias)
        return None

    def membrane(self, state):
        return state["v"]

    def quantize(self, pop, scale):
        quantize_threshold_leak_bias(pop, scale, has_threshold=False)

    def scale_limits(self, pop):
        return threshold_scale_limits(pop)

    def lava_process(self, pop, num_nodes, context):
        from neurograph.compile.lava.processes import MembraneReadout
        proc = MembraneReadout(population=pop, num_nodes=num_nodes, window=context.window,
                               windows=context.windows, path=context.readout_path(pop.name),
                               error_path=context.error_path(pop.name), name=pop.name)
        return proc, proc.a_in, None
