"""neurograph command line: demo | train | compile | samples | simulate | report.

    neurograph demo                       train -> compile -> simulate -> report on Cora
    neurograph demo --model dysign        Dy-SIGN on an evolving block model (or --dataset dblp), snapshots streamed on Lava
    neurograph train --dataset cora --out runs/cora/model.pt
    neurograph compile runs/cora/model.pt --out runs/cora     # network.npz + the training graph as samples.npz
    neurograph simulate runs/cora/network.npz --out runs/cora
    neurograph report runs/cora
    neurograph samples runs/csbm/model.pt --dataset synthetic --seeds 1 2 3 --out runs/csbm/new.samples.npz
    neurograph simulate runs/csbm/network.npz --samples runs/csbm/new.samples.npz --out runs/csbm/new
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from neurograph.config import RunConfig


def _add_config_args(p: argparse.ArgumentParser) -> None:
    d = RunConfig()
    p.add_argument("--dataset", default=d.data.name, help="cora | citeseer | pubmed | actor | dblp | synthetic (default: %(default)s)")
    p.add_argument("--data-root", default=None, help="folder holding Planetoid/<Name>/raw (default: ../shared/datasets)")
    p.add_argument("--prototype-seed", type=int, default=None,
                   help="synthetic: seed of the class feature prototypes, so graphs drawn with other seeds share them "
                        "(a family of graphs for inductive use; default: drawn with the graph)")
    p.add_argument("--model", default=d.model.name, choices=["gcsnn", "gasnn", "hvsgnn", "dysign"],
                   help="spiking model to train and deploy (its ANN baseline, GCN or GAT, is trained beside it); "
                        "hvsgnn: `demo` only, the HVS-GNN graph regression on spring networks with its A-GNN; "
                        "dysign: dynamic graphs, demo only")
    p.add_argument("--hidden", type=int, default=d.model.hidden, help="features per hidden layer (default: %(default)s)")
    p.add_argument("--layers", type=int, default=d.model.layers,
                   help="graph layers, the last feeds the readout (default: %(default)s)")
    p.add_argument("--steps", type=int, default=d.model.num_steps, help="T, input time steps (default: %(default)s)")
    p.add_argument("--neuron", default=d.model.neuron, choices=["if", "lif"], help="hidden neuron model (default: %(default)s)")
    p.add_argument("--leak", type=float, default=d.model.leak, help="LIF leak per step, 0..1")
    p.add_argument("--coding", default=d.model.coding, choices=["bernoulli", "deterministic"],
                   help="spike coding of the node features (default: %(default)s)")
    # default None: the model's own setting (config.MODEL_SETTINGS) unless given
    p.add_argument("--stfn", action=argparse.BooleanOptionalAction, default=None,
                   help="STFN on the hidden layers (default: off)")
    p.add_argument("--dropout", type=float, default=None, help="window dropout (default: the model's setting)")
    p.add_argument("--attention-dropout", type=float, default=None,
                   help="GA-SNN: dropout on attention coefficients while training (default: the model's setting)")
    p.add_argument("--attention-scores", dest="attention_scores_from", default=None, choices=["running", "step"],
                   help="GA-SNN: attention scores from the running mean of the spikes up to each step "
                        "(default) or from each step's spikes alone")
    p.add_argument("--heads", type=int, default=None,
                   help="GA-SNN (and its GAT baseline): attention heads per hidden layer (default: the model's setting)")
    p.add_argument("--init", default=None, choices=["default", "balanced"],
                   help="weight initialization; 'balanced' scales hidden currents to the threshold (deep networks)")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"training epochs (default: {d.train.epochs}; hvsgnn: {HVSGNN_DEMO_EPOCHS} for the A-GNN)")
    p.add_argument("--lr", type=float, default=d.train.lr, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--weight-decay", type=float, default=d.train.weight_decay,
                   help="weight decay on weight matrices (default: %(default)s)")
    p.add_argument("--seed", type=int, default=d.train.seed,
                   help="seed of parameters, dropout and training spikes (default: %(default)s)")
    p.add_argument("--device", default=d.train.device,
                   help="training device: auto (the GPU when there is one) | cpu | cuda (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.train.batch_size,
                   help="seed nodes per neighbour-sampled mini-batch; 0 = full batch (default: %(default)s)")
    p.add_argument("--fanout", default=d.train.fanout,
                   help="sampled in-edges per node and hop, one for all layers or one per layer, e.g. 15,10 "
                        "(default: %(default)s)")
    p.add_argument("--chip", default=d.chip.name, choices=["loihi1", "loihi2"],
                   help="energy constants and core limits (default: %(default)s)")
    p.add_argument("--input-as-current", action="store_true",
                   help="deploy the input's first graph convolution as a host-computed current (constant inputs)")


def _config(args) -> RunConfig:
    if args.model == "hvsgnn":
        raise UsageError("--model hvsgnn is a graph regression and runs whole with `neurograph demo --model hvsgnn` "
                         "(or python -m neurograph.experiments.hvsgnn); train/compile/simulate take node classifiers")
    if args.model == "dysign":
        raise UsageError("--model dysign trains on dynamic graphs: run `neurograph demo --model dysign` or "
                         "`python -m neurograph.experiments.dysign`")
    cfg = RunConfig().with_model(args.model)
    cfg.data.name, cfg.data.prototype_seed = args.dataset, args.prototype_seed
    cfg.data.root = str(Path(args.data_root).resolve()) if args.data_root else None   # saved with the run: absolute
    m = cfg.model
    m.hidden, m.layers, m.num_steps, m.neuron = args.hidden, args.layers, args.steps, args.neuron
    m.leak, m.coding = args.leak, args.coding
    for name in ("stfn", "dropout", "attention_dropout", "attention_scores_from", "heads", "init"):
        if getattr(args, name) is not None:
            setattr(m, name, getattr(args, name))
    t = cfg.train
    t.epochs = args.epochs if args.epochs is not None else t.epochs
    t.lr, t.weight_decay, t.seed = args.lr, args.weight_decay, args.seed
    t.device, t.batch_size, t.fanout = args.device, args.batch_size, args.fanout
    cfg.chip.name = args.chip
    cfg.quant.input_as_current = args.input_as_current
    return cfg.check()


def _writable(path, is_file: bool) -> Path:
    """Refuse an output location that cannot be written, before any work starts."""
    import tempfile
    path = Path(path)
    folder = path.parent if is_file else path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write to {folder} ({exc.strerror or exc}); choose another --out") from exc
    return path


class UsageError(ValueError):
    """A command-line mistake; the message names the option and the fix."""


def cmd_train(args) -> None:
    from neurograph.pipeline import train
    cfg = _config(args)
    _writable(args.out, is_file=True)
    training = train(cfg, args.out, baseline=not args.no_baseline)
    print(json.dumps(training["accuracy"], indent=2))
    print(f"saved {args.out}")


def cmd_compile(args) -> None:
    from neurograph.pipeline import compile_checkpoint
    _writable(args.out, is_file=False)
    result = compile_checkpoint(args.checkpoint, args.out, input_as_current=args.input_as_current or None)
    for name, q in result["quantization"].items():
        print(f"{name}: activation scale {q['activation_scale']:.1f}, weight exp {q['weight_exp']}, "
              f"adjacency exp {q['adjacency_exp']}, vth {q['vth']}, payload {q['payload_bits']} bits")
    print(f"saved {result['paths']['fixed']} and {result['paths']['float']}")


def cmd_simulate(args) -> None:
    from neurograph.sim.steps import simulate
    _writable(args.out, is_file=False)
    samples = args.samples or Path(args.network).with_name("samples.npz")
    summary = simulate(args.network, samples, args.out, engine=args.engine, lowering=args.lowering, carry=args.carry)
    print(json.dumps({k: summary[k] for k in ("accuracy", "binding", "seconds")}, indent=2))
    agreement = summary["fidelity"].get("spike_agreement")
    if agreement is not None:
        print(f"Lava vs reference spike agreement: {100 * agreement['all']:.2f}% over {len(summary['samples'])} "
              f"sample(s); readouts identical: {summary['fidelity']['readout_identical']}")


def cmd_samples(args) -> None:
    import dataclasses
    from neurograph.pipeline import graph_samples, load_checkpoint
    _writable(args.out, is_file=True)
    base = RunConfig.from_dict(load_checkpoint(args.checkpoint)["config"]).data
    if args.data_root is not None:
        base = dataclasses.replace(base, root=args.data_root)
    name = args.dataset or base.name
    if name == "synthetic":
        if base.name != "synthetic" or base.prototype_seed is None:
            raise ValueError("new synthetic graphs share class prototypes with the training graph only if the model "
                             "was trained on a synthetic family: retrain with --dataset synthetic --prototype-seed N")
        configs = [dataclasses.replace(base, seed=seed, num_nodes=n)
                   for seed in args.seeds for n in (args.num_nodes or [base.num_nodes])]
    else:
        configs = [dataclasses.replace(base, name=name)]
    path = graph_samples(args.checkpoint, configs, args.out)
    print(f"saved {len(configs)} sample(s) to {path}")


def cmd_report(args) -> None:
    from neurograph.sim.report import compare_reports, render_markdown
    from neurograph.sim.steps import report
    if args.compare:
        a, b = (json.loads((Path(d) / "report.json").read_text()) for d in args.compare)
        print(compare_reports(a, b, names=tuple(args.compare)))
        return
    if not args.run_dir:
        raise UsageError("give a run directory (or --compare A B)")
    if args.energy_table:
        from neurograph.sim.energy import load_energy_table
        load_energy_table(args.energy_table)        # a bad table is refused before any work
    if not (Path(args.run_dir) / "simulation.json").is_file():
        raise UsageError(f"{args.run_dir} holds no simulation.json; run `neurograph simulate ... --out "
                         f"{args.run_dir}` first")
    _writable(args.run_dir, is_file=False)
    print(render_markdown(report(args.run_dir, chip=args.chip, energy_table=args.energy_table,
                                 frontier=args.frontier)))
    print(f"wrote report.json, report.md and report.html in {args.run_dir}")


HVSGNN_DEMO_EPOCHS = 30


def demo_hvsgnn(args) -> None:
    """`demo --model hvsgnn`: its own settings (config.MODEL_SETTINGS['hvsgnn']); of the options it takes
    --epochs (the A-GNN's; the HVS-GNN is fine-tuned two thirds as long), --graphs, --seed and --out."""
    import dataclasses
    from neurograph.compile.artifact import atomic_write_text
    from neurograph.experiments.hvsgnn import demo
    cfg = RunConfig().with_model("hvsgnn")
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, name="mechanics"),
                              train=dataclasses.replace(cfg.train, epochs=args.epochs or HVSGNN_DEMO_EPOCHS,
                                                        seed=args.seed, lr=3e-3, weight_decay=0.0)).check()
    out = _writable(args.out, is_file=False)
    atomic_write_text(out / "config.json", cfg.to_json())
    start = time.perf_counter()
    result = demo(cfg, out, graphs=args.graphs, finetune_epochs=max(1, 2 * cfg.train.epochs // 3))
    print()
    print((out / "results.md").read_text())
    a_gnn, hvs = result["rows"]
    d = hvs["deployed"]
    print("Summary")
    print(f"  A-GNN test MSE                      {a_gnn['float']['mse']:.4f} (R^2 {a_gnn['float']['r2']:.3f})")
    print(f"  HVS-GNN test MSE                    {hvs['float']['mse']:.4f} (R^2 {hvs['float']['r2']:.3f}), "
          f"spiking activity {100 * hvs['activity']:.1f}%")
    print(f"  deployed on Lava test MSE           {d['deployed_mse']:.4f}")
    print(f"  Lava vs reference: spikes {100 * d['spike_agreement']:.2f}% agree, payloads "
          f"{'identical' if d['payloads_identical'] else 'DIFFER'}")
    print(f"  verdict: {d['verdict']}")
    print(f"  total time {time.perf_counter() - start:.0f} s; artifacts in {out}/")


# `demo --model dysign`: options left at their defaults take these (a run of a few minutes on a CPU)
DYSIGN_DEMO = {"dataset": "synthetic", "hidden": 32, "epochs": 15, "lr": 0.01, "batch_size": 128, "fanout": "5,2",
               "steps": 5, "num_nodes": 600, "num_snapshots": 8}


def _dysign_demo(args) -> None:
    from neurograph.experiments.dysign import demo
    plain = build_parser().parse_args(["demo"])
    given = {k: getattr(args, k) for k in DYSIGN_DEMO if hasattr(args, k)}
    use = {k: (DYSIGN_DEMO[k] if k in given and given[k] == getattr(plain, k) else given.get(k, DYSIGN_DEMO[k]))
           for k in DYSIGN_DEMO}
    if use["dataset"] not in ("synthetic", "dblp"):
        raise UsageError(f"--model dysign runs on dynamic graphs: --dataset synthetic (an evolving block model) or "
                         f"dblp, not {use['dataset']!r}")
    cfg = RunConfig().with_model("dysign")
    cfg.data.name, cfg.data.num_nodes, cfg.data.num_snapshots = use["dataset"], use["num_nodes"], use["num_snapshots"]
    cfg.data.root = str(Path(args.data_root).resolve()) if args.data_root else None
    cfg.model.hidden, cfg.model.num_steps, cfg.model.coding = use["hidden"], use["steps"], args.coding
    t = cfg.train
    t.epochs, t.lr, t.batch_size, t.fanout = use["epochs"], use["lr"], use["batch_size"], use["fanout"]
    t.seed, t.device, cfg.chip.name = args.seed, args.device, args.chip
    cfg.check()
    out = _writable(args.out, is_file=False)
    start = time.perf_counter()
    s = demo(cfg, out)
    f, d = s["float"]["test"], s["deployed"]
    print("Summary")
    print(f"  PyTorch float test Macro/Micro-F1     {f['macro_f1']:6.2f} / {f['micro_f1']:6.2f}")
    print(f"  deployed on Lava test Macro/Micro-F1  {d['deployed']['macro_f1']:6.2f} / {d['deployed']['micro_f1']:6.2f}")
    print(f"  Lava vs reference spike agreement     {100 * d['agreement']:6.2f}% over every snapshot, state carried")
    print(f"  energy per snapshot: chip {d['chip_uj_per_snapshot']:,.1f} uJ + host {d['host_uj_per_snapshot']:,.1f} uJ")
    print(f"  total time {time.perf_counter() - start:.0f} s; artifacts in {out}/")


def cmd_demo(args) -> None:
    if args.model == "hvsgnn":
        return demo_hvsgnn(args)
    if args.model == "dysign":
        return _dysign_demo(args)
    from neurograph.compile.artifact import atomic_write_text
    from neurograph.pipeline import compile_checkpoint, train
    from neurograph.sim.report import render_markdown
    from neurograph.sim.steps import report, simulate
    cfg = _config(args)
    out = _writable(args.out, is_file=False)
    atomic_write_text(out / "config.json", cfg.to_json())
    start = time.perf_counter()
    print(f"[1/4] train {cfg.model.name} and its ANN baseline on {cfg.data.name}")
    train(cfg, out / "model.pt")
    print("[2/4] compile: export -> fold STFN -> quantize to Loihi fixed point")
    compile_checkpoint(out / "model.pt", out)
    print("[3/4] simulate on Lava (fixed_pt) and on the bit-exact reference")
    simulate(out / "network.npz", out / "samples.npz", out, engine="lava", lowering=args.lowering)
    print("[4/4] report")
    result = report(out, chip=cfg.chip.name, frontier=args.frontier)
    print()
    print(render_markdown(result))
    acc, fid = result["accuracy"], result["fidelity"]
    print("Summary")
    for name, value in acc["float_models"].items():
        print(f"  {name + ' float test accuracy':<34} {100 * value:6.2f}%")
    print(f"  deployed on Lava test accuracy     {100 * acc['lava']:6.2f}%")
    print(f"  Lava vs reference spike agreement  {100 * fid['spike_agreement']['all']:6.2f}%")
    ratios = result["energy"]["ratios"]
    print(f"  ANN/SNN energy at 45 nm, host work included: dense ANN {ratios['ann_over_snn_45nm_with_host']:.2f}x, "
          f"fair ANN {ratios['fair_ann_over_snn_45nm_with_host']:.2f}x")
    print(f"  verdict: {result['energy']['verdict']}")
    print(f"  total time {time.perf_counter() - start:.0f} s; artifacts in {out}/")


def build_parser() -> argparse.ArgumentParser:
    from neurograph import __version__
    parser = argparse.ArgumentParser(prog="neurograph", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"neurograph {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="train, compile, simulate and report in one go")
    _add_config_args(p)
    p.add_argument("--out", default="runs/demo", help="folder for every artifact (default: %(default)s)")
    p.add_argument("--lowering", default="fused", choices=["fused", "stock"],
                   help="Lava lowering: our fused GraphConv processes, or Lava's stock processes (small graphs)")
    p.add_argument("--graphs", type=int, default=2000,
                   help="hvsgnn: spring networks to generate (70/15/15 split; default: %(default)s)")
    p.add_argument("--frontier", default=None, metavar="JSON",
                   help="an accuracy-energy frontier (docs/frontier.md.json) to place this run on in the report")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train a graph SNN (and its GCN/GAT baseline)")
    _add_config_args(p)
    p.add_argument("--out", default="runs/model.pt", help="checkpoint file to write (default: %(default)s)")
    p.add_argument("--no-baseline", action="store_true", help="skip the ANN baseline")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("compile", help="export, fold and quantize a checkpoint to network.npz")
    p.add_argument("checkpoint", help="a checkpoint written by `neurograph train`")
    p.add_argument("--input-as-current", action="store_true",
                   help="compute the input's first graph convolution once per sample on the host and send it "
                        "as a current (for inputs that are the same at every step, e.g. binary features)")
    p.add_argument("--out", default="runs", help="folder for network.npz, network.float.npz, samples.npz")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("samples", help="write graphs from a dataset as a sample file for a compiled network")
    p.add_argument("checkpoint", help="the trained model (GA-SNN computes each graph's attention with it)")
    p.add_argument("--dataset", default=None,
                   help="cora | citeseer | actor | dblp | synthetic (default: the checkpoint's dataset; synthetic "
                        "graphs are drawn from the training graph's family: its features, classes and prototypes)")
    p.add_argument("--data-root", default=None, help="folder holding the raw datasets")
    p.add_argument("--seeds", type=int, nargs="+", default=[1], help="synthetic: one graph per seed (and size)")
    p.add_argument("--num-nodes", type=int, nargs="+", default=None,
                   help="synthetic: graph sizes (default: the training graph's)")
    p.add_argument("--out", required=True, help="sample file to write (.samples.npz)")
    p.set_defaults(func=cmd_samples)

    p = sub.add_parser("simulate", help="run a compiled network on samples, on Lava and the reference")
    p.add_argument("network", help="a compiled network.npz")
    p.add_argument("--samples", default=None, help="sample file (default: samples.npz beside the network)")
    p.add_argument("--carry", action="store_true",
                   help="run the samples as one sequence with neuron state carried (default: reset per sample)")
    p.add_argument("--out", default="runs", help="folder for simulation.json and spikes.npz (default: %(default)s)")
    p.add_argument("--engine", default="lava", choices=["lava", "reference"],
                   help="lava: run on Lava and check it against the reference; reference: the reference only")
    p.add_argument("--lowering", default="fused", choices=["fused", "stock"],
                   help="Lava lowering: fused (ours, any size) or stock (Lava's own processes, small graphs)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("report", help="count events, price them, write report.json/.md/.html")
    p.add_argument("run_dir", nargs="?", help="a folder written by `neurograph simulate`")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="show two run directories side by side")
    p.add_argument("--chip", default="loihi1", choices=["loihi1", "loihi2"],
                   help="energy constants and core limits (default: %(default)s)")
    p.add_argument("--energy-table", default=None,
                   help="JSON file of per-event energies, each {value_pj, source} (overrides --chip's constants)")
    p.add_argument("--frontier", default=None, metavar="JSON",
                   help="an accuracy-energy frontier (docs/frontier.md.json) to place this run on")
    p.set_defaults(func=cmd_report)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that every finally block (Lava's stop) runs."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None) -> int:
    import signal

    from neurograph.compile.artifact import ArtifactError
    from neurograph.compile.ir import IRError
    from neurograph.sim.lava_runner import LavaRunError

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args.func(args)
    except KeyboardInterrupt:
        print(f"neurograph {args.command}: interrupted; Lava processes stopped, partial outputs discarded",
              file=sys.stderr)
        return 130
    except Terminated:
        print(f"neurograph {args.command}: terminated; Lava processes stopped, partial outputs discarded",
              file=sys.stderr)
        return 143
    except (ArtifactError, IRError, FileNotFoundError, ValueError, LavaRunError) as exc:   # incl. missing datasets
        if args.debug:
            raise
        print(f"neurograph {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:              # disk full, permissions: the files were written atomically or not at all
        if args.debug:
            raise
        print(f"neurograph {args.command}: error: {exc.strerror or exc}"
              f"{f' ({exc.filename})' if exc.filename else ''}; nothing half-written was left", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            raise
        print(f"neurograph {args.command}: internal error ({type(exc).__name__}: {_one_line(exc)}); "
              f"rerun with --debug for the traceback and report it", file=sys.stderr)
        return 1
    return 0


def _one_line(exc: BaseException) -> str:
    """An error message on one line (a Lava failure carries the model's traceback below its first line)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
