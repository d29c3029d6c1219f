"""Settings sweep: one model on one dataset with some settings, over seeds -> validation and test accuracy.

    python -m neurograph.experiments.sweep --model gasnn --dataset cora --set heads=4 dropout=0.7

Settings are ModelConfig or TrainConfig fields, ``name=value``, on top of the model's own
settings (config.MODEL_SETTINGS). Choose settings by the mean validation accuracy, never
by test: docs/gasnn-settings.md records the sweep that chose GA-SNN's defaults this way.
``--baseline`` trains the model's ANN baseline (GCN for GC-SNN, GAT for GA-SNN) instead.
Accuracies are of the deployed (frozen) form in float, as the training loop selects epochs;
each seed's row is the results table's (:func:`neurograph.experiments.static.run_one`, no Lava).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path

from neurograph.config import ModelConfig, RunConfig, TrainConfig
from neurograph.data import load_graph
from neurograph.experiments.static import run_one
from neurograph.pipeline import baseline_config


def apply_settings(cfg: RunConfig, settings) -> RunConfig:
    """`cfg` with ``name=value`` settings applied to its model or training part, typed as the field is."""
    model, train = {}, {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        part = next((p for p, kind in ((model, ModelConfig), (train, TrainConfig))
                     if name in {f.name for f in dataclasses.fields(kind)}), None)
        if not sep or part is None:
            raise ValueError(f"setting {setting!r} is not name=value with a ModelConfig or TrainConfig field name")
        current = getattr(cfg.model if part is model else cfg.train, name)
        part[name] = (text.lower() in ("1", "true", "yes")) if isinstance(current, bool) else type(current)(text)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **model),
                               train=dataclasses.replace(cfg.train, **train))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gasnn", choices=["gcsnn", "gasnn"])
    parser.add_argument("--dataset", default="cora")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="ModelConfig/TrainConfig fields")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--baseline", action="store_true", help="train the model's ANN baseline instead")
    parser.add_argument("--out", help="append the result as one JSON line to this file")
    parser.add_argument("--device", default=RunConfig().train.device,
                        help="training device: auto (the GPU when there is one) | cpu | cuda (default: %(default)s)")
    args = parser.parse_args(argv)
    cfg = RunConfig().with_model(args.model)
    cfg.data.name, cfg.train.device = args.dataset, args.device
    if args.baseline:
        cfg = baseline_config(cfg)
    cfg = apply_settings(cfg, args.set)
    graph = load_graph(cfg.data)
    rows = []
    for seed in args.seeds:
        (_, trained), = run_one(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed)), graph,
                                with_deploy=False)
        row = {"seed": seed, **trained}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"model": cfg.model.name, "dataset": args.dataset, "settings": args.set, "seeds": args.seeds,
               "val": statistics.mean(r["val"] for r in rows), "test": statistics.mean(r["float"] for r in rows),
               "rows": rows, "config": cfg.to_dict(), "command": "python -m neurograph.experiments.sweep "
               + " ".join(argv if argv is not None else sys.argv[1:])}
    print(f"{cfg.model.name} on {args.dataset} {' '.join(args.set) or '(defaults)'}: "
          f"val {100 * summary['val']:.2f}, test {100 * summary['test']:.2f} (mean of {len(rows)} seeds)")
    if args.out:
        with open(Path(args.out), "a") as f:
            f.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
