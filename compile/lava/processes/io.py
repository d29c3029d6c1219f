"""Input and output processes: feed a stored spike raster, reduce results in the network.

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
    """Sends spikes[t-1] (bool, (N, F)) at step t for t <= T, then silence.

    The raster travels to the model's process as a bit-packed proc param, and the
    port is bool so each step moves N*F bytes rather than 4*N*F.
    """

    def __init__(self, spikes: np.ndarray, error_path: str, **kwargs):
        steps, n, f = spikes.shape
        super().__init__(packed=np.packbits(spikes, axis=-1), shape=(n, f), steps=steps, error_path=error_path,
                         **kwargs)
        self.s_out = OutPort(shape=(n, f))


@implements(proc=SpikeSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeSourceModel(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool, precision=1)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._packed = proc_params["packed"]
        self._shape = proc_params["shape"]
        self._silence = np.zeros(self._shape, dtype=bool)

    def run_spk(self):
        self._row = self._silence
        guarded(self, self._unpack)
        self.s_out.send(self._row)

    def _unpack(self):
        t = self.time_step - 1
        if t < self._packed.shape[0]:
            self._row = np.unpackbits(self._packed[t], axis=-1, count=self._shape[1]).astype(bool)


class SpikeRecorder(AbstractProcess):
    """Records every spike of a population; writes a bit-packed raster at step `steps`."""

    def __init__(self, shape, steps: int, path: str, error_path: str, **kwargs):
        super().__init__(shape=tuple(shape), steps=steps, path=path, error_path=error_path, **kwargs)
        self.a_in = InPort(shape=tuple(shape))


@implements(proc=SpikeRecorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PySpikeRecorderModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=1)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        shape, steps = proc_params["shape"], proc_params["steps"]
        self._raster = np.zeros((steps, shape[0], (shape[1] + 7) // 8), dtype=np.uint8)

    def run_spk(self):
        s = self.a_in.recv()
        guarded(self, lambda: self._record(s))

    def _record(self, s):
        t = self.time_step - 1
        if t < self._raster.shape[0]:
            self._raster[t] = np.packbits(s != 0, axis=-1)
        if self.time_step == self.proc_params["steps"]:
            np.save(self.proc_params["path"], self._raster)


class MembraneReadout(AbstractProcess):
    """Non-spiking integrator compartment: v += (a << 6) + bias, saturating at 24 bits.

    Exactly Lava's LIF voltage update with du=4095, dv=leak and no threshold; the
    final v is written at step `steps` and is the network's readout.
    """

    def __init__(self, shape, bias: np.ndarray, bias_exp: int, leak: int, steps: int, path: str, error_path: str,
                 **kwargs):
        super().__init__(shape=tuple(shape), bias=np.asarray(bias, dtype=np.int64), bias_exp=int(bias_exp),
                         leak=int(leak), steps=steps, path=path, error_path=error_path, **kwargs)
        self.a_in = InPort(shape=tuple(shape))


@implements(proc=MembraneReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyMembraneReadoutModel(PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._v = np.zeros(proc_params["shape"], dtype=np.int64)
        self._bias = np.left_shift(proc_params["bias"], proc_params["bias_exp"])
        self._factor = 4096 - proc_params["leak"]

    def run_spk(self):
        a = self.a_in.recv()
        guarded(self, lambda: self._integrate(a.astype(np.int64)))

    def _integrate(self, a):
        u = (a << 6).astype(np.int32).astype(np.int64)   # int32 like Lava's LIF
        limit = 1 << 23
        u = np.where(u > limit, u - 2 * limit, np.where(u <= -limit, u + 2 * limit, u))
        decayed = self._v * self._factor
        decayed = np.sign(decayed) * (np.abs(decayed) >> 12)
        self._v = np.clip(decayed + u + self._bias, -limit + 1, limit - 1)
        if self.time_step == self.proc_params["steps"]:
            np.save(self.proc_params["path"], self._v)
