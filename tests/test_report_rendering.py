"""The HTML report is one offline file that a browser renders, plots included."""
import json
import shutil
import subprocess

import pytest

from neurograph.compile.artifact import save_network
from neurograph.compile.fold import fold_scales
from neurograph.compile.quantize import quantize_network
from neurograph.compile.samples import save_samples
from neurograph.sim.steps import report, simulate

from conftest import make_float_network, random_sample

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    sample = random_sample(2, nodes=30)
    folded = fold_scales(make_float_network(seed=2, sample=sample))
    save_network(folded, out / "network.float.npz")
    fixed = quantize_network(folded)
    fixed.metadata["config"] = {"data": {"name": "synthetic"}, "model": {"name": "gcsnn"}}
    save_network(fixed, out / "network.npz")
    save_samples([sample], out / "samples.npz")
    simulate(out / "network.npz", out / "samples.npz", out, engine="reference", progress=False)
    ann = {"name": "gcn", "accuracy": 0.8, "dense_uj": 50.0, "fair_uj": 2.0}
    point = {"dataset": "synthetic", "model": "gcsnn", "coding": "bernoulli", "T": 2, "accuracy": 0.7,
             "chip_with_host_uj": 1.5, "snn_45nm_with_host_uj": 0.5, "host_uj": 0.1, "ann": ann}
    rows = [point, {**point, "input_as_current": True, "chip_with_host_uj": 1.0},
            {**point, "dataset": "cora", "chip_with_host_uj": 9.0}]          # another dataset: left out
    rows[0]["input_as_current"] = rows[2]["input_as_current"] = False
    (out / "frontier.json").write_text(json.dumps({"rows": rows}))
    report(out, frontier=out / "frontier.json")
    return out


def test_html_is_self_contained(run_dir):
    page = (run_dir / "report.html").read_text()
    assert "http://" not in page and "https://" not in page          # readable offline
    for plot in ("raster_if1", "rates_if1", "rate_over_time", "energy_breakdown", "core_utilisation"):
        assert f'alt="{plot}" src="data:image/png;base64,' in page
    assert "Chip mapping" in page and "Quantization fidelity" in page and "Davies et al." in page
    # the comparison places this run on the frontier of its dataset and model, and says where the SNN wins
    assert 'alt="frontier" src="data:image/png;base64,' in page
    md = (run_dir / "report.md").read_text()
    section = md[md.index("## Accuracy against energy (gcsnn on synthetic, from frontier.json)"):]
    assert "| **this run** |" in section and "| bernoulli T=2 as current | 70.00% | 1.0 | 0.50 |" in section
    assert "9.0" not in section.split("\n\n")[1]                     # cora's row is not shown
    assert "Cheaper than the fair ANN at 45 nm: bernoulli T=2 (0.50 uJ, 70.0%), bernoulli T=2 as current " \
           "(0.50 uJ, 70.0%); none of them within 1 point" in section
    assert "Cheaper than the fair ANN on Loihi 1's minimum constants: bernoulli T=2 (1.50 uJ" in section


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
def test_html_renders_in_headless_chromium(run_dir, tmp_path):
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,3000",
                    f"--screenshot={shot}", (run_dir / "report.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    from PIL import Image
    image = Image.open(shot).convert("L")
    assert image.size == (1200, 3000)
    # a rendered page has dark text and plots on a light background, not a blank or error page
    histogram = image.histogram()
    dark = sum(histogram[:100]) / (1200 * 3000)
    assert 0.002 < dark < 0.5
    shutil.copy(shot, run_dir / "report-screenshot.png")
