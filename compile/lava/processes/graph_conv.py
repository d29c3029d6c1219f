"""Our synapse processes: a fused graph convolution, a per-node dense transform, an aggregation.

GraphConv does exactly the integer arithmetic and timing of the two-stage network

    spikes (N, F_in) --Dense(W, e_W)--> graded relay (N, F_out) --Sparse(A, e_A)--> a_out (N, F_out)

built from Lava's stock processes (Dense/Sparse deliver one step later, the relay
passes its input on in the same step), so an input spike at step t reaches the
target at step t + 2. Inside, it is two vectorised products -- S @ W and the CSR
aggregation per attention head -- never the (N*F_out) x (N*F_in) matrix A (x) W.

NodeDense (one W shared by all nodes) and GraphAggregate (A per head) are the two
halves on their own, for projections that are not such a chain. All three take the
numbers from :mod:`neurograph.compile.projections`, the code the reference runs.
Graph weights follow a schedule: one set of matrices per window (sample), so a
stream of graph snapshots runs as one Lava run with the neuron state carried.
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
from neurograph.compile.projections import dense_step, graph_step


class GraphConv(AbstractProcess):
    """s_in (N, F_in) -> a_out (N, F_out), two steps later. `schedule`: per window, the per-head
    (feature slice, CSR) pairs of the aggregation."""

    def __init__(self, weight, weight_exp: int, schedule: list, adjacency_exp: int, window: int,
                 num_nodes: int, error_path: str, **kwargs):
        f_in, f_out = np.shape(weight)
        super().__init__(weight=np.asarray(weight, dtype=np.int64), weight_exp=int(weight_exp), schedule=schedule,
                         adjacency_exp=int(adjacency_exp), window=int(window), out_shape=(num_nodes, f_out),
                         error_path=error_path, **kwargs)
        self.s_in = InPort(shape=(num_nodes, f_in))
        self.a_out = OutPort(shape=(num_nodes, f_out))


class NodeDense(AbstractProcess):
    """s_in (N, F_in) -> a_out (N, F_out) one step later: the same W for every node."""

    def __init__(self, weight, weight_exp: int, num_nodes: int, error_path: str, **kwargs):
        f_in, f_out = np.shape(weight)
        super().__init__(weight=np.asarray(weight, dtype=np.int64), weight_exp=int(weight_exp),
                         out_shape=(num_nodes, f_out), error_path=error_path, **kwargs)
        self.s_in = InPort(shape=(num_nodes, f_in))
        self.a_out = OutPort(shape=(num_nodes, f_out))


class GraphAggregate(AbstractProcess):
    """s_in (N, F) -> a_out (N, F) one step later: aggregation over the window's graph."""

    def __init__(self, schedule: list, adjacency_exp: int, window: int, num_nodes: int, num_features: int,
                 error_path: str, **kwargs):
        super().__init__(schedule=schedule, adjacency_exp=int(adjacency_exp), window=int(window),
                         out_shape=(num_nodes, num_features), error_path=error_path, **kwargs)
        self.s_in = InPort(shape=(num_nodes, num_features))
        self.a_out = OutPort(shape=(num_nodes, num_features))


class _SynapseModel(PyLoihiProcessModel):
    """Send last step's result first (the one-step synaptic delay), then compute this step's."""
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._out = np.zeros(proc_params["out_shape"], dtype=np.int64)

    def run_spk(self):
        self.a_out.send(self._out)
        s = self.s_in.recv()
        guarded(self, lambda: self._compute(s.astype(np.int64)))

    def _heads(self):
        p = self.proc_params
        schedule = p["schedule"]
        return schedule[min((self.time_step - 1) // p["window"], len(schedule) - 1)]


@implements(proc=GraphConv, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGraphConvModel(_SynapseModel):
    def __init__(self, proc_params):
        super().__init__(proc_params)
        self._relay = np.zeros(proc_params["out_shape"], dtype=np.int64)     # what Dense holds for the relay

    def _compute(self, s):
        p = self.proc_params
        self._out = graph_step(self._relay, self._heads(), p["adjacency_exp"], True)   # the relay's payload now
        self._relay = dense_step(s, p["weight"], p["weight_exp"], True)


@implements(proc=NodeDense, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyNodeDenseModel(_SynapseModel):
    def _compute(self, s):
        self._out = dense_step(s, self.proc_params["weight"], self.proc_params["weight_exp"], True)


@implements(proc=GraphAggregate, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGraphAggregateModel(_SynapseModel):
    def _compute(self, s):
        self._out = graph_step(s, self._heads(), self.proc_params["adjacency_exp"], True)
