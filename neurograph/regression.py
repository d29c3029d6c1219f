"""Graph-level regression on the spring networks (HVS-GNN's task): data, training, evaluation.

Target: the standardized log effective modulus (K_eff x width / height, see
:attr:`neurograph.data.mechanics.MechanicsGraph.modulus`), mean and spread taken on the training
graphs. Graphs are split 70 / 15 / 15 (train / validation / test) in a seeded order; training
batches whole graphs with PyG's DataLoader; the model kept is the one with the best validation
MSE. Metrics: MSE (standardized units), R^2 and spiking activity (spikes per neuron of the spiking
boundaries per input step).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List

import numpy as np
import torch

from neurograph.config import RunConfig


@dataclass
class RegressionData:
    train: list            # PyG Data per graph: x (N, 9), edge_index (both directions), y (1, 1) standardized
    val: list
    test: list
    target_mean: float
    target_std: float

    @property
    def num_features(self) -> int:
        return int(self.train[0].x.shape[1])


def mechanics_regression(num_graphs: int = 2000, seed: int = 0, cache=None) -> RegressionData:
    """The spring-network dataset (generated once, cached) as standardized regression splits."""
    from torch_geometric.data import Data
    from neurograph.data.mechanics import mechanics_dataset
    from neurograph.models.hvsgnn import mean_edges
    graphs = mechanics_dataset(num_graphs, seed, cache=cache)
    order = np.random.default_rng(seed).permutation(len(graphs))
    cut1, cut2 = int(0.7 * len(graphs)), int(0.85 * len(graphs))
    target = np.log([g.modulus for g in graphs])
    mean, std = float(target[order[:cut1]].mean()), float(target[order[:cut1]].std())

    def data(i):
        g = graphs[i]
        edges = np.concatenate([g.springs, g.springs[::-1]], axis=1)
        mean_agg = mean_edges(edges, g.num_nodes)
        return Data(x=torch.tensor(g.node_features(), dtype=torch.float32), edge_index=torch.from_numpy(edges),
                    mean_edge_index=torch.stack([mean_agg.source, mean_agg.target]), mean_weight=mean_agg.weight,
                    y=torch.tensor([[(target[i] - mean) / std]], dtype=torch.float32), graph_id=int(i))
    return RegressionData([data(i) for i in order[:cut1]], [data(i) for i in order[cut1:cut2]],
                          [data(i) for i in order[cut2:]], mean, std)


def evaluate(model, graphs: list, batch_size: int = 64) -> Dict[str, float]:
    """MSE, R^2 and spiking activity of `model` (eval mode) on `graphs`, and its predictions."""
    from torch_geometric.loader import DataLoader
    from neurograph.models.hvsgnn import batch_edges
    model.eval()
    predictions, targets, activity, weights = [], [], [], []
    with torch.no_grad():
        for batch in DataLoader(graphs, batch_size=batch_size):
            pred, rate = model(batch.x, batch_edges(batch), batch.batch, batch.num_graphs)
            predictions.append(pred[:, 0])
            targets.append(batch.y[:, 0])
            activity.append(float(rate))
            weights.append(batch.num_nodes)
    pred, y = torch.cat(predictions).numpy(), torch.cat(targets).numpy()
    return {**scores(pred, y), "activity": float(np.average(activity, weights=weights)), "predictions": pred}


def scores(pred: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    mse = float(np.mean((pred - y) ** 2))
    return {"mse": mse, "r2": float(1.0 - mse / np.var(y))}


def train_regression(cfg: RunConfig, data: RegressionData, progress=None, start_from=None):
    """Train an HVS-GNN / A-GNN / HLIF-GNN as `cfg.model` says; returns (model, history).

    `start_from`: a trained model of the same sizes (e.g. the A-GNN) whose weights, BatchNorm
    statistics and head the new model starts from -- spiking variants are fine-tuned from the
    continuous network, which converges in a fraction of the epochs training from scratch takes."""
    from torch_geometric.loader import DataLoader
    from neurograph.models.hvsgnn import HVSGNN, batch_edges
    torch.manual_seed(cfg.train.seed)
    model = HVSGNN(cfg.model, data.num_features)
    if start_from is not None:
        model.load_state_dict(start_from.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.train.epochs)
    loader = DataLoader(data.train, batch_size=cfg.train.batch_size or 32, shuffle=True,
                        generator=torch.Generator().manual_seed(cfg.train.seed))
    best, best_state, history = float("inf"), None, []
    for epoch in range(cfg.train.epochs):
        model.train()
        start = time.perf_counter()
        for batch in loader:
            optimizer.zero_grad()
            pred, rate = model(batch.x, batch_edges(batch), batch.batch, batch.num_graphs)
            loss = torch.nn.functional.mse_loss(pred, batch.y) + cfg.model.spiking_loss * rate
            loss.backward()
            optimizer.step()
        scheduler.step()
        val = evaluate(model, data.val)
        history.append({"epoch": epoch + 1, "val_mse": val["mse"], "val_activity": val["activity"],
                        "seconds": time.perf_counter() - start})
        if val["mse"] < best:
            best, best_state = val["mse"], {k: v.clone() for k, v in model.state_dict().items()}
        if progress is not None:
            progress(f"epoch {epoch + 1}/{cfg.train.epochs}: val MSE {val['mse']:.4f}, activity "
                     f"{100 * val['activity']:.1f}%")
    model.load_state_dict(best_state)
    model.eval()
    return model, history


# ---- deployment -------------------------------------------------------------------------------
def graph_samples(graphs: list) -> list:
    """PyG graphs -> samples for the compiled network (features in [0, 1], one target row each)."""
    from neurograph.compile.samples import Sample
    return [Sample(f"graph{int(g.graph_id)}", int(g.num_nodes), g.edge_index.numpy().astype(np.int64),
                   features=g.x.numpy().astype(np.float64), targets=g.y.numpy().astype(np.float64)) for g in graphs]


def deploy(net, float_net, samples: list, engine: str = "lava", graphs_per_run: int = 100,
           progress: bool = False) -> dict:
    """Run the compiled network on every sample -- `graphs_per_run` graphs at a time as one disjoint
    union, each union one run on the reference executor and (engine 'lava') on Lava -- and score the
    host's predictions. Returns metrics, fidelity, event counts (merged) and the simulate summaries."""
    from neurograph.compile.samples import disjoint_union
    from neurograph.sim.reference import prepare, run_reference, sequences
    from neurograph.sim.scoring import graph_predictions
    from neurograph.sim.steps import simulate_samples
    unions = [disjoint_union(samples[i:i + graphs_per_run], name=f"graphs{i}-{i + len(samples[i:i + graphs_per_run]) - 1}")
              for i in range(0, len(samples), graphs_per_run)]
    summary, runs, counts = simulate_samples(net, unions, engine=engine, progress=progress)   # one run per union
    deployed = [graph_predictions(net, run.readouts[0], union) for run, union in zip(runs, unions)]
    floats = [graph_predictions(float_net, run_reference(float_net, seq, record=False).readouts[0], seq[0].sample)
              for seq in sequences(prepare(float_net, unions), False)]
    y = np.concatenate([u.targets for u in unions])[:, 0]
    pred, float_pred = np.concatenate(deployed)[:, 0], np.concatenate(floats)[:, 0]
    fidelity = summary["fidelity"]
    return {"deployed": scores(pred, y), "float_ir": scores(float_pred, y), "predictions": pred,
            "engine": engine, "graphs": len(samples), "runs": len(unions),
            "spike_agreement": fidelity.get("spike_agreement", {}).get("all"),
            "payloads_identical": fidelity.get("payloads_identical"),
            "readouts_identical": fidelity.get("readout_identical"),
            "counts": counts, "summary": summary}
