"""Input and output processes: feed samples' inputs, reduce results in the network.

Reading Lava Vars moves one element per message (~30 us each), so results are
not read through Var.get: recorders keep their data inside the process and write
one .npy file at the last step of the run (see lava-fixed-point.md, 4.3).
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


class SpikeSource(AbstractProcess):
    """Plays one input per window: window w's spikes at its steps 1..T, then silence.

    Each input is an :class:`~neurograph.compile.inputs.InputSpec` (nonzero features and a
    seed, or a packed raster); the process makes each step's raster itself, so memory
    does not grow with T. The port is bool so each step moves N*F bytes, not 4*N*F.
    """

    def __init__(self, inputs: list, window: int, shape, error_path: str, **kwargs):
        super().__init__(inputs=list(inputs), window=int(window), shape=tuple(shape), error_path=error_path,
                         **kwargs)
        self.s_out = OutPort(shape=tuple(shape))


class _SourceModel(PyLoihiProcessModel):
    """Plays the inputs' streams on the window schedule; subclasses set the port's type."""

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._silence = np.zeros(proc_params["shape"], dtype=self.silence_dtype)
        self._stream = None

    def run_spk(self):
        self._row = self._silence
        guarded(self, self._next)
        self.s_out.send(self._row)

    def _next(self):
        window = self.proc_params["window"]
        w, k = divmod(self.time_step - 1, window)
        inputs = self.proc_params["inputs"]
        if w >= len(inputs):
            return
        if k == 0:
            self._stream = inputs[w].stream()
        if k < inputs[w].num_steps:
            self._row = next(self._stream)


@implements(proc=SpikeSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeSourceModel(_SourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)
    silence_dtype = bool


class GradedSource(SpikeSource):
    """A SpikeSource for graded inputs: the same schedule, int32 payloads instead of bool spikes."""


@implements(proc=GradedSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGradedSourceModel(_SourceModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    silence_dtype = np.int32


class CurrentSource(AbstractProcess):
    """Sends window w's precomputed current (N, F) at its steps `first`..`last` (1-based within the window,
    inclusive) and zero otherwise: the host's constant input current, arriving when synapses would have."""

    def __init__(self, currents: list, first: int, last: int, window: int, error_path: str, **kwargs):
        shape = tuple(np.shape(currents[0]))
        super().__init__(currents=[np.asarray(c, dtype=np.int32) for c in currents], first=int(first), last=int(last),
                         window=int(window), shape=shape, error_path=error_path, **kwargs)
        self.a_out = OutPort(shape=shape)


@implements(proc=CurrentSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyCurrentSourceModel(PyLoihiProcessModel):
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._zero = np.zeros(proc_params["shape"], dtype=np.int32)

    def run_spk(self):
        p = self.proc_params
        w, k = divmod(self.time_step - 1, p["window"])
        inside = w < len(p["currents"]) and p["first"] <= k + 1 <= p["last"]
        self.a_out.send(p["currents"][w] if inside else self._zero)


class Recorder(AbstractProcess):
    """Records a population's output every step and writes the raster at step `steps`: bit-packed
    (steps, N, ceil(F/8)) for spikes (`graded=False`), int32 (steps, N, F) for graded payloads."""

    def __init__(self, shape, steps: int, path: str, error_path: str, graded: bool = False, **kwargs):
        super().__init__(shape=tuple(shape), steps=steps, path=path, error_path=error_path, graded=bool(graded),
                         **kwargs)
        self.a_in = InPort(shape=tuple(shape))


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRecorderModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        (n, f), steps = proc_params["shape"], proc_params["steps"]
        graded = proc_params["graded"]
        self._raster = np.zeros((steps, n, f) if graded else (steps, n, (f + 7) // 8),
                                dtype=np.int32 if graded else np.uint8)

    def run_spk(self):
        s = self.a_in.recv()
        guarded(self, lambda: self._record(s))

    def _record(self, s):
        t = self.time_step - 1
        if t < self._raster.shape[0]:
            self._raster[t] = s if self.proc_params["graded"] else np.packbits(s != 0, axis=-1)
        if self.time_step == self.proc_params["steps"]:
            np.save(self.proc_params["path"], self._raster)


class MembraneReadout(AbstractProcess):
    """A readout-kind population (the integrator): steps its kind's fixed-point dynamics and
    keeps its membrane potential at the end of every window; writes them at the last step."""

    def __init__(self, population, num_nodes: int, window: int, windows: int, path: str, error_path: str,
                 **kwargs):
        shape = (int(num_nodes), int(population.features))
        super().__init__(population=population, shape=shape, window=int(window), windows=int(windows), path=path,
                         error_path=error_path, **kwargs)
        self.a_in = InPort(shape=shape)


@implements(proc=MembraneReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyMembraneReadoutModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        pop = proc_params["population"]
        self._pop = pop
        self._state = pop.neuron.init_state(pop, proc_params["shape"][0], fixed=True)
        self._membranes = []

    def run_spk(self):
        a = self.a_in.recv()
        guarded(self, lambda: self._integrate(a.astype(np.int64)))

    def _integrate(self, a):
        self._pop.neuron.step(self._pop, self._state, a, True, {})
        p = self.proc_params
        if self.time_step % p["window"] == 0:
            self._membranes.append(np.array(self._pop.neuron.membrane(self._state)))
        if self.time_step == p["window"] * p["windows"]:
            np.save(p["path"], np.stack(self._membranes))
