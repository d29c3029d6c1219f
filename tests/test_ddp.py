"""Data-parallel training: 2 CPU processes (gloo) launched by torchrun hold identical parameters after
training and reach the single-process accuracy within seed noise."""
import json
import subprocess
import sys

import pytest
import torch

COMMON = ["--dataset", "synthetic", "--fanout", "5", "--epochs", "15", "--hidden", "16", "--device", "cpu",
          "--no-baseline"]


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", ["20", "0"], ids=["sampled", "full-batch"])
def test_two_process_ddp_ranks_agree_and_match_single_process_accuracy(tmp_path, batch_size):
    ARGS = COMMON + ["--batch-size", batch_size]
    out = tmp_path / "model.pt"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "neurograph.distributed", *ARGS, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rank0 = torch.load(out, weights_only=False)
    rank1 = torch.load(tmp_path / "model.rank1.pt", weights_only=False)
    assert rank0["state_dict"].keys() == rank1["state_dict"].keys()
    for name, value in rank0["state_dict"].items():
        assert torch.equal(value, rank1["state_dict"][name]), name
    ddp = rank0["training"]["accuracy"]["gcsnn"]

    from neurograph.cli import _add_config_args, _config
    import argparse
    parser = argparse.ArgumentParser()
    _add_config_args(parser)
    cfg = _config(parser.parse_args([a for a in ARGS if a != "--no-baseline"]))
    from neurograph.data import load_graph
    from neurograph.models import build_model
    from neurograph.train import train_model
    graph = load_graph(cfg.data)
    single = []
    for seed in (0, 1):
        cfg.train.seed = seed
        torch.manual_seed(seed)
        single.append(train_model(build_model(cfg.model, graph), graph, cfg, progress=False).accuracy["test"])
    print(json.dumps({"ddp": ddp, "single": single}))
    assert abs(ddp - sum(single) / len(single)) <= 0.05 + abs(single[0] - single[1])
