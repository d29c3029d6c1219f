"""Data-parallel training across processes: torch.distributed + DistributedDataParallel, launched by torchrun.

    torchrun --standalone --nproc_per_node 2 -m neurograph.distributed --dataset cora --out runs/ddp/model.pt
    torchrun --standalone --nproc_per_node 4 -m neurograph.distributed --dataset synthetic \
        --batch-size 256 --fanout 10,5 --out runs/ddp/model.pt

Takes the options of ``neurograph train``. Every rank loads the graph and builds the same model
(same seed); DistributedDataParallel averages the gradients, so the ranks hold identical
parameters after every step. Each rank takes its own share of each epoch's shuffled training
nodes (its own seed nodes when sampling, its own loss mask when full batch) and draws its own
training spikes. Backend: nccl when the ranks have GPUs (rank i on cuda:LOCAL_RANK), else gloo.
Rank 0 writes the checkpoint (the same file ``neurograph train`` writes, ready to compile);
rank r > 0 writes its own beside it as ``<name>.rank<r>.pt``, to check the ranks agree.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
import torch.distributed as dist


def rank_checkpoint(out, rank: int) -> Path:
    out = Path(out)
    return out if rank == 0 else out.with_name(f"{out.stem}.rank{rank}{out.suffix}")


def main(argv=None) -> None:
    from neurograph.cli import _add_config_args, _config

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_config_args(p)
    p.add_argument("--out", default="runs/ddp/model.pt")
    p.add_argument("--no-baseline", action="store_true", help="skip the ANN baseline")
    args = p.parse_args(argv)
    cfg = _config(args)

    from neurograph.train import resolve_device
    device = resolve_device(cfg.train.device)
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        cfg.train.device = f"cuda:{local_rank}"
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        from neurograph.pipeline import train
        rank, world = dist.get_rank(), dist.get_world_size()
        training = train(cfg, rank_checkpoint(args.out, rank), baseline=not args.no_baseline,
                         progress=rank == 0)
        if rank == 0:
            print(json.dumps({"world_size": world, **training["accuracy"]}, indent=2))
            print(f"saved {args.out}")
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
