"""Relay: a graded compartment that passes its summed input on as a payload, every step.

On the chip it is the middle of a graph convolution (feature transform -> relay ->
aggregation). Its payload is never clipped: Lava's GradedVec sends a plain int32,
so the IR instead proves a bound -- ``payload_bits`` must hold the worst-case
input (checked by :func:`neurograph.compile.ir.check_ranges`), and then every
executor sends the same value.
"""
from __future__ import annotations

import numpy as np

from neurograph.compile.kinds import NeuronKind

MAX_PAYLOAD_BITS = 24             # graded spike payload (Loihi 2)


class Relay(NeuronKind):
    name = "relay"
    output = "graded"
    forwards_input = True
    params = {"payload_bits": (5, False)}
    help = "graded relay: payload = summed input (signed, payload_bits wide)"

    def check(self, pop, domain, where):
        from neurograph.compile.ir import IRError
        if pop.bias is not None or pop.threshold is not None:
            raise IRError(f"{where}: a relay has no threshold or bias")
        if domain == "fixed" and not 1 < pop.payload_bits <= MAX_PAYLOAD_BITS:
            raise IRError(f"{where}: payload_bits={pop.payload_bits} outside 2..{MAX_PAYLOAD_BITS}")

    def output_bound(self, pop, input_bound):
        return input_bound

    def init_state(self, pop, num_nodes, fixed):
        return {}

    def step(self, pop, state, a, fixed, events):
        return a

    def lava_process(self, pop, num_nodes, context):
        from lava.proc.graded.process import GradedVec
        proc = GradedVec(shape=(num_nodes, pop.features), vth=0)   # vth=0: any nonzero input is sent
        return proc, proc.a_in, proc.s_out
