"""The HTML report is one offline file that a browser renders, plots included."""
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
    save_network(quantize_network(folded), out / "network.npz")
    save_samples([sample], out / "samples.npz")
    simulate(out / "network.npz", out / "samples.npz", out, engine="reference", progress=False)
    report(out)
    return out


def test_html_is_self_contained(run_dir):
    page = (run_dir / "report.html").read_text()
    assert "http://" not in page and "https://" not in page          # readable offline
    for plot in ("raster_if1", "rates_if1", "rate_over_time", "energy_breakdown", "core_utilisation"):
        assert f'alt="{plot}" src="data:image/png;base64,' in page
    assert "Chip mapping" in page and "Quantization fidelity" in page and "Davies et al." in page


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
