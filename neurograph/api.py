"""The Python API: train (or bring a trained model), compile, run on samples, count, report.

Everything here is a thin wrapper over the functions the CLI uses (``neurograph.pipeline``,
``neurograph.compile``, ``neurograph.sim``); it adds names, defaults and checks, not logic.
Importable from the package: ``import neurograph as ng; ng.train_model(...)``.

Shapes and units used throughout:

* N nodes, E directed edges, F input features, C classes, T input steps;
  a run lasts ``network.window_steps`` = T + 2 x layers steps per sample (each graph layer
  is two synaptic hops of one step).
* features: float (N, F) firing probabilities in [0, 1]; labels: int (N,), < 0 unlabelled;
  edge_index: int (2, E), source -> target, no self loops needed (rules add them).
* accuracies and agreements are fractions in [0, 1]; energies are pJ; times are seconds;
  firing rates are events per neuron per step.

See docs/api.md and examples/ for the whole path.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Union

# Loaded here, before any API name is handed out: importing them later would set the package
# attributes neurograph.train / neurograph.config to those submodules.
from neurograph import config as _config_module, pipeline as _pipeline, train as _train_module  # noqa: F401
from neurograph.compile.artifact import load_network, save_network
from neurograph.compile.ir import IRError, Network
from neurograph.compile.samples import Sample, load_samples, save_samples
from neurograph.config import RunConfig

PathLike = Union[str, Path]

__all__ = ["run_config", "load_graph", "train_model", "load_trained", "Trained", "compile_model", "Compiled",
           "check_exportable", "ExportError", "to_sample", "Sample", "load_samples", "save_samples", "load_network",
           "save_network", "run", "Run", "count", "report", "compare"]


# ---- configuration and data -----------------------------------------------------------------
_SECTIONS = ("model", "data", "train", "quant", "chip")


def run_config(model: str = "gcsnn", dataset: str = "cora", **settings) -> RunConfig:
    """A :class:`~neurograph.config.RunConfig` for `model` ('gcsnn' | 'gasnn') on `dataset`
    ('cora' | 'citeseer' | 'pubmed' | 'actor' | 'dblp' | 'synthetic'), with that model's defaults.

    `settings` set any field of the config by its name -- ``epochs=50``, ``hidden=16``,
    ``num_steps=8`` (T), ``num_nodes=300`` (synthetic), ``stfn=True`` -- or, where two sections
    share a name (``seed``, ``name``), by ``<section>_<field>``: ``train_seed=1``, ``data_seed=2``.
    An unknown or ambiguous name is a ValueError listing the choices."""
    cfg = RunConfig().with_model(model)
    cfg.data = replace(cfg.data, name=dataset)
    owners: Dict[str, List[str]] = {}
    for section in _SECTIONS:
        for f in fields(getattr(cfg, section)):
            owners.setdefault(f.name, []).append(section)
    for key, value in settings.items():
        section, name = None, key
        prefix, _, rest = key.partition("_")
        if prefix in _SECTIONS and rest in {f.name for f in fields(getattr(cfg, prefix))}:
            section, name = prefix, rest
        elif len(owners.get(key, [])) == 1:
            section = owners[key][0]
        elif key in owners:
            raise ValueError(f"setting {key!r} is ambiguous: say " + " or ".join(f"{s}_{key}" for s in owners[key]))
        else:
            raise ValueError(f"unknown setting {key!r}; known: {sorted(owners)}")
        setattr(cfg, section, replace(getattr(cfg, section), **{name: value}))
    return cfg


def load_graph(dataset: Union[str, "object"] = "cora", **data_settings):
    """A dataset as a ``GraphData`` (torch tensors: x (N, F), y (N,), edge_index (2, E), masks).

    `dataset` is a name or a ``DataConfig``; `data_settings` set DataConfig fields (``root``,
    ``num_nodes``, ``seed``, ``prototype_seed`` ...). Nothing is downloaded: real datasets are
    read from ``../shared/datasets`` or ``$NEUROGRAPH_DATA``."""
    from neurograph.config import DataConfig
    from neurograph.data import load_graph as _load
    cfg = dataset if isinstance(dataset, DataConfig) else DataConfig(name=dataset)
    return _load(replace(cfg, **data_settings))


# ---- training ---------------------------------------------------------------------------------
@dataclass
class Trained:
    """A trained spiking model with what it was trained on.

    model: the torch module (CPU, eval mode); graph: its training graph (GraphData);
    config: the RunConfig; training: accuracies (fractions, test split), best epoch, history;
    checkpoint: the model.pt it was saved to (None when it was not)."""
    model: object
    graph: object
    config: RunConfig
    training: dict = field(default_factory=dict)
    checkpoint: Optional[Path] = None

    @property
    def accuracy(self) -> Dict[str, float]:
        """Float test accuracy per model trained (the spiking model, and its ANN baseline if trained)."""
        return dict(self.training.get("accuracy", {}))


def train_model(cfg: RunConfig, out: Optional[PathLike] = None, baseline: bool = False,
                progress: bool = True) -> Trained:
    """Train the spiking model of `cfg` (and, with `baseline`, its GCN/GAT baseline) and return it.

    Calls :func:`neurograph.pipeline.train`, which saves a checkpoint to `out` (model.pt; a
    temporary file when None), and restores the model from it. `progress`: a bar on a terminal,
    a few lines otherwise (``$NEUROGRAPH_PROGRESS=off`` silences it)."""
    if out is None:
        with tempfile.TemporaryDirectory(prefix="neurograph-") as tmp:
            trained = train_model(cfg, Path(tmp) / "model.pt", baseline, progress)
        trained.checkpoint = None
        return trained
    _pipeline.train(cfg, out, baseline=baseline, progress=progress)
    return load_trained(out)


def load_trained(checkpoint: PathLike) -> Trained:
    """A model.pt written by :func:`train_model` or ``neurograph train``, restored with its graph."""
    ckpt = _pipeline.load_checkpoint(checkpoint)
    model, graph, cfg = _pipeline.restore_model(ckpt)
    model.eval()
    return Trained(model, graph, cfg, ckpt.get("training", {}), Path(checkpoint))


# ---- compile ------------------------------------------------------------------------------------
class ExportError(IRError):
    """A model the IR cannot express; the message names the part and what a model must provide."""


MODEL_CONTRACT = (
    "a deployable model is a neurograph.models.GCSNN (or GASNN) or a subclass that keeps its dynamics "
    "(forward not overridden): `convs` is a ModuleList of neurograph.layers.SpikingGraphConv / "
    "SpikingGraphAttention layers (each a bias-free nn.Linear `lin` followed by aggregation over the graph), "
    "hidden neurons 'if' or 'lif', per-layer `biases` (or STFN `norms`), a `readout_bias`, and an "
    "`aggregation_rule` the chip can bind ('gcn', 'mean' or 'attention'); nothing else with state or "
    "parameters, since export would not see it")


def check_exportable(model) -> None:
    """Raise :class:`ExportError` unless `model` is something the IR can express (see MODEL_CONTRACT)."""
    from torch import nn

    from neurograph.compile.graphs import RULES
    from neurograph.layers import SpikingGraphConv
    from neurograph.models.gasnn import GASNN
    from neurograph.models.gcsnn import GCSNN

    name = type(model).__name__
    if not isinstance(model, GCSNN):
        raise ExportError(f"cannot export {name}: {MODEL_CONTRACT}")
    base = GASNN if isinstance(model, GASNN) else GCSNN
    if type(model).forward is not base.forward:
        raise ExportError(f"cannot export {name}: it overrides forward(), and export reads the weights assuming "
                          f"{base.__name__}'s dynamics; {MODEL_CONTRACT}")
    if model.aggregation_rule not in RULES:
        raise ExportError(f"cannot export {name}: aggregation_rule {model.aggregation_rule!r} is not one the chip "
                          f"can bind (rules: {sorted(RULES)})")
    if model.cfg.neuron not in ("if", "lif"):
        raise ExportError(f"cannot export {name}: neuron {model.cfg.neuron!r} (supported: if, lif)")
    for i, conv in enumerate(model.convs):
        where = f"{name}.convs[{i}] ({type(conv).__name__})"
        if not isinstance(conv, SpikingGraphConv):
            raise ExportError(f"cannot export {where}: the IR cannot express this layer -- a graph layer on the "
                              f"chip is a dense feature transform, then aggregation with per-edge weights from a "
                              f"rule ({', '.join(sorted(RULES))}); {MODEL_CONTRACT}")
        lin = getattr(conv, "lin", None)
        if not isinstance(lin, nn.Linear) or lin.bias is not None:
            raise ExportError(f"cannot export {where}: its `lin` must be a bias-free nn.Linear (a bias belongs in "
                              f"the neurons' biases)")
        extra = [n for n, m in conv.named_children() if n != "lin" and any(True for _ in m.parameters())]
        if extra:
            raise ExportError(f"cannot export {where}: submodules with parameters {extra} are not part of a graph "
                              f"layer the IR can express")
    known = {"convs", "norms", "biases"}
    extra = [f"{n} ({type(m).__name__})" for n, m in model.named_children() if n not in known]
    if extra:
        raise ExportError(f"cannot export {name}: the IR cannot express {', '.join(extra)}; {MODEL_CONTRACT}")
    params = [n for n, _ in model.named_parameters(recurse=False) if n != "readout_bias"]
    if params:
        raise ExportError(f"cannot export {name}: parameters {params} are not part of the IR")


class Compiled(NamedTuple):
    """A compiled model: float_net (folded float IR), fixed_net (Loihi fixed point, what runs on the
    chip) and sample (the training graph as a :class:`Sample`: features (N, F), labels, masks)."""
    float_net: Network
    fixed_net: Network
    sample: Sample

    def save(self, out_dir: PathLike) -> Dict[str, Path]:
        """network.npz, network.float.npz and samples.npz in `out_dir` (the names ``neurograph
        compile`` writes, so ``neurograph simulate`` and :func:`run` find the float network)."""
        out = Path(out_dir)
        return {"fixed": save_network(self.fixed_net, out / "network.npz"),
                "float": save_network(self.float_net, out / "network.float.npz"),
                "samples": save_samples([self.sample], out / "samples.npz")}


def compile_model(model, graph=None, cfg: Optional[RunConfig] = None, training: Optional[dict] = None) -> Compiled:
    """Export, fold and quantize a trained model (:func:`neurograph.pipeline.compile_model`).

    Give a :class:`Trained`, or your own trained module with its training graph (GraphData) and
    RunConfig (the config's model section must describe the module: T, coding, threshold).
    Calibration uses `graph`; the compiled networks hold no graph. The model is first checked
    by :func:`check_exportable`, so a layer the IR cannot express is an :class:`ExportError`
    naming it, not a failure deep inside export."""
    if isinstance(model, Trained):
        graph = model.graph if graph is None else graph
        cfg = model.config if cfg is None else cfg
        training = model.training if training is None else training
        model = model.model
    if graph is None or cfg is None:
        raise ValueError("compile_model needs the model's training graph and RunConfig (or a Trained)")
    check_exportable(model)
    return Compiled(*_pipeline.compile_model(model, graph, cfg, training))


def to_sample(trained: Trained, graph, name: str = "") -> Sample:
    """A graph (GraphData) as a :class:`Sample` for `trained`'s compiled network: edges, features,
    labels, masks; for GA-SNN also the attention coefficients its host stage computes per graph."""
    from neurograph.compile.export import graph_sample
    return graph_sample(trained.model, graph, trained.config, name)


# ---- run, count, report -------------------------------------------------------------------------
@dataclass
class Run:
    """What :func:`run` produced.

    summary: the simulation summary (as simulation.json: per-sample accuracy, agreement, binding
    cost in bytes and seconds, timings); counts: events per population and projection
    (:func:`count`); results: per run, a SimResult (spike rasters bool (steps, N, F) via
    ``.raster(name)``, readouts (N, C) per window) -- in-memory runs only; run_dir: where
    simulation.json and spikes.npz were written (runs with ``out``), what :func:`report` reads."""
    summary: dict
    counts: dict
    results: Optional[list] = None
    run_dir: Optional[Path] = None

    @property
    def accuracy(self) -> Dict[str, Optional[float]]:
        """Test accuracy pooled over the samples, per executor: 'fixed_reference', 'lava' (when run on
        Lava), 'float_ir_reference' (when a float network was given)."""
        return dict(self.summary["accuracy"])

    @property
    def agreement(self) -> Optional[float]:
        """Lava vs reference spike agreement over every neuron and step (1.0 = identical); None when
        Lava was not run."""
        agreement = self.summary["fidelity"].get("spike_agreement")
        return None if agreement is None else agreement["all"]

    @property
    def samples(self) -> List[dict]:
        """Per sample: name, nodes, edges, accuracy per executor, and on Lava run_spike_agreement and
        readout_identical."""
        return list(self.summary["samples"])


def _as_network(network) -> Network:
    return network if isinstance(network, Network) else load_network(network)


def _as_samples(samples) -> List[Sample]:
    if isinstance(samples, Sample):
        return [samples]
    if isinstance(samples, (str, Path)):
        return load_samples(samples)
    return list(samples)


def run(network: Union[Network, PathLike], samples: Union[Sample, Sequence[Sample], PathLike],
        engine: str = "reference", float_network: Union[Network, PathLike, None] = None, carry: bool = False,
        lowering: str = "fused", out: Optional[PathLike] = None, progress: bool = True) -> Run:
    """Run a compiled network on samples (:func:`neurograph.sim.steps.simulate_samples`).

    network: the fixed-point Network or its network.npz; samples: a Sample, a list, or a
    .samples.npz. engine: 'reference' (numpy, bit-exact, fast) or 'lava' (Lava's CPU simulator
    and the reference, compared spike for spike). float_network: the folded float IR, to measure
    what quantization changes. carry: run the samples as one stream with neuron state carried
    (one node set), else each with state reset.

    With `out`, the run is file-based (:func:`neurograph.sim.steps.simulate`): the network and
    samples are written there if given as objects (network.npz, network.float.npz, samples.npz),
    and simulation.json + spikes.npz name their sha256; :func:`report` needs such a run."""
    if out is None:
        from neurograph.sim.steps import simulate_samples
        net = _as_network(network)
        float_net = _as_network(float_network) if float_network is not None else None
        summary, results, counts = simulate_samples(net, _as_samples(samples), float_net, engine, lowering, carry,
                                                    progress)
        return Run(summary, counts.to_dict(), results)
    from neurograph.sim.steps import simulate
    out = Path(out)
    if isinstance(network, Network):
        network_path = save_network(network, out / "network.npz")
        if float_network is not None:
            save_network(_as_network(float_network), out / "network.float.npz")
        else:       # simulate() pairs network.npz with the float network beside it: not an earlier run's
            (out / "network.float.npz").unlink(missing_ok=True)
    else:
        network_path = Path(network)
        if float_network is not None:
            raise ValueError("with a network file, the float network is the network.float.npz beside it; "
                             "do not pass float_network")
    samples_path = Path(samples) if isinstance(samples, (str, Path)) else \
        save_samples(_as_samples(samples), out / "samples.npz")
    summary = simulate(network_path, samples_path, out, engine, lowering, carry, progress)
    return Run(summary, summary["counts"], None, out)


def count(run: Run) -> dict:
    """The events of a run, summed over its samples (:mod:`neurograph.sim.counters`).

    Returns steps (neuron-steps per neuron), input_spikes, populations (name, kind, neurons,
    events, firing_rate in events per neuron per step, active/inactive updates) and projections
    (name, kind, synapses, events in, synaptic_ops), plus two totals: ``synaptic_ops`` and
    ``firing_rate`` (population name -> rate)."""
    counts = run.counts
    return {**counts, "synaptic_ops": sum(p["synaptic_ops"] for p in counts["projections"]),
            "firing_rate": {p["name"]: p["firing_rate"] for p in counts["populations"]}}


def report(run: Union[Run, PathLike], chip: str = "loihi1", energy_table: Optional[PathLike] = None,
           plots: bool = True) -> dict:
    """Price a file-based run and write report.json, report.md and report.html into its directory
    (:func:`neurograph.sim.steps.report`); returns the report.

    chip: 'loihi1' (Davies et al. 2018 per-event energies) or 'loihi2' (no published constants:
    counts only, chip energy None); energy_table: a JSON file of your own per-event energies
    (pJ, with sources; overrides chip's constants). Energies in the report are pJ."""
    if isinstance(run, Run):
        if run.run_dir is None:
            raise ValueError("report() prices a run's files: run with out=<dir> (or use count() for the events "
                             "of an in-memory run)")
        run_dir, network = run.run_dir, run.summary.get("made_from", {}).get("network")
    else:
        run_dir, network = Path(run), None
    from neurograph.sim.steps import report as _report
    return _report(run_dir, chip=chip, energy_table=str(energy_table) if energy_table else None,
                   network_path=network, plots=plots)


def compare(a: dict, b: dict, names=("A", "B")) -> str:
    """Two reports side by side as a Markdown table (:func:`neurograph.sim.report.compare_reports`):
    accuracy, agreement, firing rates, synaptic ops and energies."""
    from neurograph.sim.report import compare_reports
    return compare_reports(a, b, names=tuple(names))
