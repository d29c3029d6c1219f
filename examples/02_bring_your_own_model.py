"""Example 2: bring your own trained spiking model, and what the compiler refuses.

What it shows: a spiking graph model you build and train yourself -- your layer sizes,
LIF neurons, your optimizer and your own training loop -- compiled through the API, and
its chip predictions checked against your PyTorch model. Then a model with a layer the
IR cannot express (PyG's SAGEConv with max aggregation): compile_model refuses it with
an ExportError that names the layer and says what a model must provide.

What a model must provide (neurograph.api.MODEL_CONTRACT): be a neurograph GCSNN / GASNN
or a subclass that keeps its dynamics; `convs` of SpikingGraphConv / SpikingGraphAttention
(a bias-free Linear `lin`, then aggregation over the graph by a rule the chip can bind:
gcn, mean or attention); IF or LIF hidden neurons; per-layer biases (or STFN); a
readout bias. The model's dynamics are the chip's: two one-step synaptic hops per layer.

    python examples/02_bring_your_own_model.py            # Cora, 100 epochs
    python examples/02_bring_your_own_model.py --small    # a 300-node synthetic graph, 10 epochs (CI)
"""
import argparse
import os

import neurograph as ng       # first: it silences torch's torch.jit.script FutureWarning that PyG triggers
import numpy as np
import torch
import torch.nn.functional as F
from neurograph.models.gcsnn import GCSNN
from torch_geometric.nn import SAGEConv

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", default=os.environ.get("NEUROGRAPH_EXAMPLES_SMALL") == "1")
args = parser.parse_args()

# Your model: three graph layers of 32 LIF neurons, T = 6 input steps.
cfg = ng.run_config("gcsnn", "synthetic" if args.small else "cora", num_nodes=300, layers=3, hidden=32,
                    neuron="lif", leak=0.1, num_steps=6, dropout=0.5)
graph = ng.load_graph(cfg.data)
torch.manual_seed(0)
model = GCSNN(cfg.model, graph.num_nodes, graph.num_features, graph.num_classes)

# Your training loop: any optimizer and loss; train_logits draws a fresh input spike raster per epoch.
optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-3)
train_mask = graph.masks["train"]
for epoch in range(10 if args.small else 100):
    model.train()
    optimizer.zero_grad()
    loss = F.cross_entropy(model.train_logits(graph, epoch, seed=0)[train_mask], graph.y[train_mask])
    loss.backward()
    optimizer.step()
model.eval()
with torch.no_grad():     # the deployed form: the input raster the chip gets (cfg.train.input_seed)
    torch_predictions = model.inference_logits(graph, cfg.train.input_seed).argmax(dim=1).numpy()
test = graph.masks["test"].numpy()
print(f"your model (PyTorch): loss {loss.item():.3f}, "
      f"test accuracy {(torch_predictions[test] == graph.y.numpy()[test]).mean():.1%}")

# Compile it and run the fixed-point network on its graph (the numpy reference, bit-exact with Lava).
compiled = ng.compile_model(model, graph, cfg)
run = ng.run(compiled.fixed_net, compiled.sample, engine="reference")
chip_predictions = run.results[0].predictions()
print(f"compiled: {len(compiled.fixed_net.populations)} populations, "
      f"{compiled.fixed_net.window_steps} steps per sample; "
      f"chip test accuracy {run.accuracy['fixed_reference']:.1%}")
print(f"prediction agreement, chip (fixed point) vs your PyTorch model: "
      f"{np.mean(chip_predictions == torch_predictions):.1%}")


# A layer the IR cannot express: max aggregation has no synaptic form (a synapse sums).
class WithMaxAggregation(GCSNN):
    def make_conv(self, layer, in_features, out_features):
        if layer == 1:
            return SAGEConv(in_features, out_features, aggr="max")
        return super().make_conv(layer, in_features, out_features)


unsupported = WithMaxAggregation(cfg.model, graph.num_nodes, graph.num_features, graph.num_classes)
try:
    ng.compile_model(unsupported, graph, cfg)
except ng.ExportError as error:
    print(f"refused as expected -- ExportError:\n  {error}")
else:
    raise SystemExit("a SAGEConv(max) layer was compiled: the export check is broken")
