"""GraphConv: a whole spiking graph-convolution synapse layer as one Lava process.

It does exactly the integer arithmetic and timing of the two-stage network

    spikes (N, F_in) --Dense(W, e_W)--> graded relay (N, F_out) --Sparse(A, e_A)--> a_out (N, F_out)

built from Lava's stock processes (Dense/Sparse deliver one step later, the relay
passes its input on in the same step), so an input spike at step t reaches the
target at step t + 2. The relay payload saturates at `payload_bits`. Inside, it
is two vectorised products -- S @ W (float64 BLAS, exact below 2**53) and the
CSR aggregation A @ P, per attention head on its slice of P -- never the
(N*F_out) x (N*F_in) matrix A (x) W.
"""
import numpy as np
import scipy.sparse as sp
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurograph.compile.ir import head_slices
from neurograph.compile.lava.processes.guard import guarded


def _shift(x, exponent):
    return np.left_shift(x, exponent) if exponent >= 0 else np.right_shift(x, -exponent)


class GraphConv(AbstractProcess):
    """s_in (N, F_in) spikes -> a_out (N, F_out) synaptic input, two steps later."""

    def __init__(self, weight: np.ndarray, weight_exp: int, adjacency: list, adjacency_exp: int,
                 payload_bits: int, error_path: str, **kwargs):
        """`adjacency`: one CSR (N, N) per attention head; head k aggregates the k-th of
        len(adjacency) equal slices of the F_out features."""
        n = adjacency[0].shape[0]
        f_in, f_out = weight.shape
        super().__init__(weight=np.asarray(weight, dtype=np.int64), weight_exp=int(weight_exp),
                         adjacency=[sp.csr_matrix(a, dtype=np.int64) for a in adjacency],
                         adjacency_exp=int(adjacency_exp),
                         payload_bits=int(payload_bits), error_path=error_path, **kwargs)
        self.s_in = InPort(shape=(n, f_in))
        self.a_out = OutPort(shape=(n, f_out))


@implements(proc=GraphConv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGraphConvModel(PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._w = proc_params["weight"].astype(np.float64)
        self._w_exp = proc_params["weight_exp"]
        self._adj = proc_params["adjacency"]
        self._adj_exp = proc_params["adjacency_exp"]
        hi = (1 << (proc_params["payload_bits"] - 1)) - 1
        self._payload_range = (-hi - 1, hi)
        n, f_out = self._adj[0].shape[0], self._w.shape[1]
        self._head_features = head_slices(f_out, len(self._adj))
        self._relay = np.zeros((n, f_out), dtype=np.int64)     # what Dense holds for the relay
        self._out = np.zeros((n, f_out), dtype=np.int64)       # what Sparse holds for the target

    def run_spk(self):
        self.a_out.send(self._out)                  # Sparse: last step's aggregation goes out first
        s = self.s_in.recv()
        guarded(self, lambda: self._compute(s))

    def _compute(self, s):
        payload = np.clip(self._relay, *self._payload_range)   # relay fires what Dense sent it
        aggregated = [a @ payload[:, features] for a, features in zip(self._adj, self._head_features)]
        self._out = _shift(np.concatenate(aggregated, axis=1), self._adj_exp)
        self._relay = _shift(np.rint(s.astype(np.float64) @ self._w).astype(np.int64), self._w_exp)
