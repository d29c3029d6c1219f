"""neurograph's own Lava processes, each with its fixed-point ProcessModel.

Lava finds ProcessModels by executing every module in the directory of a
Process's module, so this package holds process modules and nothing else.
"""
from neurograph.compile.lava.processes.graph_conv import GraphAggregate, GraphConv, NodeDense
from neurograph.compile.lava.processes.io import CurrentSource, GradedSource, MembraneReadout, Recorder, SpikeSource
from neurograph.compile.lava.processes.kind_step import KindStep

__all__ = ["CurrentSource", "GradedSource", "GraphAggregate", "GraphConv", "KindStep", "MembraneReadout", "NodeDense", "Recorder", "SpikeSource"]
