"""Lava process for the LIF-with-reset-by-subtraction kind (stock LIF resets to zero).

The model runs :meth:`neurograph.compile.kinds.lif_subtract.LIFSubtract.step`, the
same code as the reference executor, on Lava's time-step protocol.
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


class LIFSubtractProcess(AbstractProcess):
    """a_in (N, F) synaptic input -> s_out (N, F) spikes, same step (as Lava's LIF)."""

    def __init__(self, population, num_nodes: int, error_path: str, **kwargs):
        shape = (int(num_nodes), int(population.features))
        super().__init__(population=population, shape=shape, error_path=error_path, **kwargs)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)


@implements(proc=LIFSubtractProcess, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLIFSubtractModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._pop = proc_params["population"]
        self._state = self._pop.neuron.init_state(self._pop, proc_params["shape"][0], fixed=True)
        self._spikes = np.zeros(proc_params["shape"], dtype=bool)

    def run_spk(self):
        a = self.a_in.recv()
        guarded(self, lambda: self._step(a.astype(np.int64)))
        self.s_out.send(self._spikes)

    def _step(self, a):
        self._spikes = self._pop.neuron.step(self._pop, self._state, a, True, {})
