"""Joint inversions through `parjoint invert` on 2 ranks: the three strategies with a
cross-gradient coupling (DC + gravity), and DC + IP with an IP data set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clirun import run_cli
from test_inversion_runs import FORWARD, GRAVITY_FORWARD, MESH

REG = """[[regularization]]
kind = "smoothness"
block = "{block}"
weight = 1.0
[[regularization]]
kind = "smallness"
block = "{block}"
weight = 0.001
"""
BLOCKS = """[mesh]
file = "m.msh"
[model.log_conductivity]
start_resistivity = 100.0
[model.{second}]
start = {start}
[[dataset]]
name = "dc"
physics = "dc"
file = "obs.dat"
"""
GRAVITY = """[[dataset]]
name = "gravity"
physics = "gravity"
file = "gz.csv"
"""
IP = """[[dataset]]
name = "ip"
physics = "ip"
file = "ip.dat"
uncertainty = { relative = 0.03, floor = 0.001 }
[dataset.simulation]
resistivity = 100.0
"""
COUPLING = """[[coupling]]
kind = "cross_gradient"
blocks = ["log_conductivity", "{second}"]
scale = [1.0, {scale}]
weight = 100.0
[inversion]
max_iterations = 2
beta_ratio = {ratio}
cg_max_iterations = 40
[joint]
strategy = "{strategy}"
cycles = 2
iterations = 1
[output]
folder = "out_{strategy}"
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from parjoint.mesh.builder import build_mesh_from_spec

    folder = tmp_path_factory.mktemp("joint")
    (folder / "mesh.toml").write_text(MESH)
    build_mesh_from_spec(str(folder / "mesh.toml"), str(folder / "m.msh"))
    ip = FORWARD.replace('physics = "dc"', 'physics = "ip"').replace("NMAX", "4").replace(
        "resistivity = { earth = 100.0, block = 10.0 }",
        "resistivity = { earth = 100.0, block = 10.0 }\nchargeability = { earth = 0.01, block = 0.1 }").replace(
        "relative = 0.02", "relative = 0.03\nfloor = 0.001").replace('"obs.dat"', '"ip.dat"')
    for name, text in (("fwd.toml", FORWARD.replace("NMAX", "4")), ("gfwd.toml", GRAVITY_FORWARD), ("ipfwd.toml", ip)):
        (folder / name).write_text(text)
        proc, _ = run_cli(["forward", str(folder / name)], ranks=2, timeout=300)
        assert proc.returncode == 0, proc.stderr
    return folder


def _run(folder, text, name):
    (folder / f"{name}.toml").write_text(text)
    proc, _ = run_cli(["invert", str(folder / f"{name}.toml")], ranks=2, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((folder / f"out_{name}" / "history.json").read_text())


@pytest.mark.parametrize("strategy", ["simultaneous", "cooperative", "sequential"])
def test_dc_gravity_cross_gradient_strategies(data, strategy):
    text = (BLOCKS.format(second="density", start=0.0) + GRAVITY + REG.format(block="log_conductivity")
            + REG.format(block="density")
            + COUPLING.format(second="density", scale=100.0, strategy=strategy,
                              ratio="{ log_conductivity = 10.0, density = 0.05 }"))
    history = _run(data, text, strategy)
    first, last = np.array(history[0]["chi2_ratio"]), np.array(history[-1]["chi2_ratio"])
    assert (last < 0.5 * first).all(), (first, last)  # both data sets fit much better
    if strategy == "cooperative":
        assert [h["stage"] for h in history[1:]] == ["1:log_conductivity", "1:density", "2:log_conductivity",
                                                     "2:density"]
    if strategy == "sequential":
        assert [h["stage"] for h in history[1:]] == ["log_conductivity", "density"]
        assert history[2]["phi_c"] > 0.0  # the density stage saw the finished conductivity
    else:
        assert history[-1]["phi_c"] > 0.0


def test_dc_ip_cross_gradient(data):
    text = (BLOCKS.format(second="chargeability", start=0.01) + IP + REG.format(block="log_conductivity")
            + REG.format(block="chargeability")
            + COUPLING.format(second="chargeability", scale=0.05, strategy="simultaneous", ratio=10.0))
    history = _run(data, text.replace('folder = "out_simultaneous"', 'folder = "out_ip"'), "ip")
    first, last = np.array(history[0]["chi2_ratio"]), np.array(history[-1]["chi2_ratio"])
    assert (last < 0.5 * first).all(), (first, last)
    import h5py

    with h5py.File(data / "out_ip" / "model.h5", "r") as fh:
        eta = fh["chargeability"][...]
    assert eta.max() > 0.03  # the chargeable block shows


def test_dc_gravity_direct_parameter_coupling(data):
    """One log conductivity model drives DC and, through a linear relation, gravity; the
    written model holds the density the relation made of it."""
    c0, c1 = 800.0, 173.7178
    blocks = BLOCKS.replace("[model.{second}]\nstart = {start}\n", "")  # the log conductivity only
    text = (blocks + GRAVITY
            + f'block = "log_conductivity"\nrelation = {{ kind = "polynomial", coefficients = [{c0}, {c1}] }}\n'
            + REG.format(block="log_conductivity")
            + '[inversion]\nmax_iterations = 2\nbeta_ratio = 10.0\ncg_max_iterations = 40\n'
              '[output]\nfolder = "out_direct"\n')
    history = _run(data, text, "direct")
    first, last = np.array(history[0]["chi2_ratio"]), np.array(history[-1]["chi2_ratio"])
    assert (last < 0.5 * first).all(), (first, last)
    import h5py

    with h5py.File(data / "out_direct" / "model.h5", "r") as fh:
        log_sigma, density = fh["log_conductivity"][...], fh["density"][...]
        assert fh["density"].attrs["units"] == "kg/m^3"
    earth = np.isfinite(log_sigma)
    assert np.array_equal(earth, np.isfinite(density))  # air stays out of both
    assert np.allclose(density[earth], c0 + c1 * log_sigma[earth], rtol=0, atol=1e-9)
    from parjoint.mesh.gmsh_reader import read_msh

    mesh = read_msh(str(data / "m.msh"))  # model files are in mesh-file cell order
    block = mesh.cell_region == {n: t for t, n in mesh.region_names.items()}["block"]
    # the conductive block comes out dense through the relation (2 iterations: part of its 400 kg/m^3)
    assert density[block].mean() > 10.0 and density[block].mean() > 3 * abs(density[earth & ~block].mean())
