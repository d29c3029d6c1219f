"""KindStep: the Lava process of any neuron kind that has no stock Lava process.

Its model runs the kind's own :meth:`~neurograph.compile.kinds.NeuronKind.step` -- the
code the reference executor runs -- on Lava's time-step protocol, and sends what the
step returns: spikes as 0/1 or graded payloads, on an int32 port (never bool: a bool
port would turn payloads into 0/1). So a new kind needs no process module of its own.
"""
import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurograph.compile.lava.processes.guard import guarded


class KindStep(AbstractProcess):
    """a_in (N, F) synaptic input -> s_out (N, F) output of the same step (as Lava's LIF and GradedVec)."""

    def __init__(self, population, num_nodes: int, error_path: str, **kwargs):
        shape = (int(num_nodes), int(population.features))
        super().__init__(population=population, shape=shape, error_path=error_path, **kwargs)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)


@implements(proc=KindStep, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyKindStepModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._pop = proc_params["population"]
        self._state = self._pop.neuron.init_state(self._pop, proc_params["shape"][0], fixed=True)
        self._out = np.zeros(proc_params["shape"], dtype=np.int32)

    def run_spk(self):
        a = self.a_in.recv()
        guarded(self, lambda: self._step(a.astype(np.int64)))
        self.s_out.send(self._out)

    def _step(self, a):
        # check_ranges proved graded payloads fit payload_bits <= 24, so int32 holds them exactly
        self._out = self._pop.neuron.step(self._pop, self._state, a, True, {}).astype(np.int32)
