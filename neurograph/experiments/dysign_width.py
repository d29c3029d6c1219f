"""How much of Dy-SIGN's accuracy its untrained spiking layers already give, by width.

    python -m neurograph.experiments.dysign_width --hidden 64 128 256 512 --out docs/results/dysign-width.md

Per hidden size: the network with its threshold-balanced init and no training step, run on the
whole graph in its deployed form (every snapshot, the state carried), and only the classifier fitted
to the training nodes' readouts (the refit training does each epoch). Beside them, the
classifier alone on the input features: the last snapshot's, and all snapshots' concatenated.
The distance between a row here and the trained model is what training the spiking layers adds.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from neurograph.config import RunConfig


def features_only(graph, steps) -> dict:
    """The classifier (standardised inputs, the refit's L-BFGS and l2) on the features of `steps`, concatenated."""
    from neurograph.data.dynamic import f1_scores
    from neurograph.models.dysign import fit_linear
    x = torch.as_tensor(np.concatenate([graph.features(t) for t in steps], axis=1))
    train = torch.as_tensor(graph.masks["train"])
    z = (x - x[train].mean(dim=0)) / x[train].std(dim=0).clamp_min(1e-6)
    linear = torch.nn.Linear(x.shape[1], graph.num_classes)
    fit_linear(linear, z[train], torch.as_tensor(graph.y[train]))
    with torch.no_grad():
        pred = linear(z).argmax(dim=1).numpy()
    return {split: f1_scores(pred[m], graph.y[m]) for split, m in graph.masks.items()}


def untrained(cfg: RunConfig, graph) -> dict:
    """Validation/test F1 of the balanced-init network with only its classifier fitted."""
    from neurograph.data.dynamic_loader import DynamicNeighborSampler
    from neurograph.dynamic_train import calibration_batch, evaluate, parse_hops
    from neurograph.models import build_model
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model, graph)
    model.initialize(calibration_batch(graph, cfg, DynamicNeighborSampler(graph, parse_hops(cfg.train.fanout))),
                     cfg.train.seed)
    return evaluate(model, graph, cfg, refit=True)


def main(argv=None) -> int:
    from neurograph.data.dynamic import load_dynamic
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="dblp", help="dblp | synthetic (default: %(default)s)")
    p.add_argument("--ratio", type=float, default=0.4, help="training ratio (default: %(default)s)")
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 128, 256, 512])
    p.add_argument("--steps", type=int, default=5, help="K latency steps per snapshot (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=256,
                   help="the init's calibration batch, as training's first (positive; default: %(default)s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/results/dysign-width.md")
    a = p.parse_args(argv)
    if a.batch_size < 1:
        p.error(f"--batch-size must be positive (the init calibrates on a sampled batch), got {a.batch_size}")
    cfg = RunConfig().with_model("dysign")
    cfg.data.name, cfg.data.train_ratio, cfg.data.seed, cfg.train.seed = a.dataset, a.ratio, a.seed, a.seed
    cfg.model.coding, cfg.model.init, cfg.model.num_steps, cfg.train.batch_size = "graded", "balanced", a.steps, a.batch_size
    cfg.check()
    graph = load_dynamic(cfg.data)
    last = graph.num_snapshots - 1
    rows = [{"model": "classifier on the last snapshot's features", **features_only(graph, [last])},
            {"model": f"classifier on all {graph.num_snapshots} snapshots' features",
             **features_only(graph, range(graph.num_snapshots))}]
    for hidden in a.hidden:
        cfg.model.hidden = hidden
        start = time.perf_counter()
        rows.append({"model": f"untrained Dy-SIGN, hidden {hidden}, classifier fitted", **untrained(cfg, graph),
                     "seconds": time.perf_counter() - start})
        print(json.dumps(rows[-1]), flush=True)
    command = "python -m neurograph.experiments.dysign_width " + " ".join(sys.argv[1:] if argv is None else argv)
    lines = [f"# Dy-SIGN on {graph.name} at {a.ratio:.0%} training: untrained spiking layers by width", "",
             f"Command: `{command}`  ",
             f"K = {a.steps}, graded input, balanced init, seed {a.seed}; Macro-F1 (%) of the deployed form on the "
             f"whole graph, the classifier fitted by L-BFGS to the training nodes.", "",
             "| representation | val Macro-F1 | test Macro-F1 | test Micro-F1 |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['val']['macro_f1']:.2f} | {r['test']['macro_f1']:.2f} | {r['test']['micro_f1']:.2f} |"
              for r in rows]
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    Path(str(out) + ".json").write_text(json.dumps({"config": cfg.to_dict(), "command": command, "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
