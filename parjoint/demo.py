"""``parjoint demo [folder]``: the joint-inversion demonstration behind ``make demo``.

On the default topographic mesh (``meshes/hill.toml``: a hill, an air layer, a grid of
electrodes and a buried block that is both conductive and dense) it

1. synthesizes DC resistivity (dipole-dipole on the electrode grid, 3% noise) and
   gravity (gz on a 21 x 11 grid 1 m above the ground, 0.01 mGal + 2% noise) data;
2. inverts them separately, and jointly in two ways: with a cross-gradient coupling
   between log conductivity and density (structure only), and with one log
   conductivity model driving both physics through a linear petrophysical relation
   between log conductivity and density (direct parameter coupling);
3. prints a table of model-recovery figures for the four runs: correlation with the
   true models in the surveyed volume, the error of the recovered body's edges, and
   chi^2/N of each data set;
4. writes the models (XDMF, HDF5), the configurations it ran (a worked example of
   every file format) and PNG sections of the true, separate and joint models.

Run under ``mpirun -n 2``; everything lands in ``folder`` (default ``build/demo``).
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from mpi4py import MPI

from .parallel import print0

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRUE_RHO = {"earth": 100.0, "block": 10.0}  # ohm m
TRUE_DENSITY = {"earth": 0.0, "block": 400.0}  # kg/m^3 contrast
ELECTRODES = 'grid = { x = [-320.0, 320.0], y = [-120.0, 120.0], nx = 17, ny = 4 }'
GRAVITY = 'grid = { x = [-500.0, 500.0], y = [-300.0, 300.0], nx = 21, ny = 11 }'

FORWARD_DC = f"""# synthetic DC data: dipole-dipole along the lines of the electrode grid
physics = "dc"
[mesh]
file = "hill.msh"
[model]
resistivity = {{ earth = {TRUE_RHO['earth']}, block = {TRUE_RHO['block']}, air = 1e8 }}
[survey]
array = "dipole-dipole"
{ELECTRODES}
n_max = 6
[noise]
relative = 0.03
seed = 11
[output]
data = "dc.dat"
"""

FORWARD_GRAVITY = f"""# synthetic gravity data: gz 1 m above the ground
physics = "gravity"
[mesh]
file = "hill.msh"
[model]
density = {{ block = {TRUE_DENSITY['block']} }}
[survey]
{GRAVITY}
height = 1.0
components = ["gz"]
[noise]
relative = 0.02
floor = 0.01
seed = 12
[output]
data = "gz.csv"
"""

BLOCK_DC = """[model.log_conductivity]
regions = ["earth", "block"]
start_resistivity = 100.0
"""
BLOCK_DENSITY = """[model.density]
regions = ["earth", "block"]
start = 0.0
"""
DATA_DC = """[[dataset]]
name = "dc"
physics = "dc"
file = "dc.dat"
block = "log_conductivity"
"""
DATA_GRAVITY = """[[dataset]]
name = "gravity"
physics = "gravity"
file = "gz.csv"
block = "density"
"""
REG = """[[regularization]]
kind = "smoothness"
block = "{block}"
weight = 1.0{depth}
[[regularization]]
kind = "smallness"
block = "{block}"
weight = {small}{depth}
"""
DEPTH = "\ndepth_weighting = { z0 = 20.0, exponent = 2.0 }"
REG_DC = REG.format(block="log_conductivity", small="0.001", depth="")
REG_GRAVITY = REG.format(block="density", small="0.001", depth=DEPTH)
# The same settings for the separate and the joint runs, so that the comparison shows
# the coupling alone: gravity needs a much smaller starting beta than DC (its data
# Hessian has a few large eigenvalues), hence one starting ratio per block; 60 CG steps
# because one Gauss-Newton system holds both blocks, and with 20 the gravity part was
# left under-solved (twice the iterations, a rougher model).
RATIO = {"log_conductivity": 10.0, "density": 0.05}
INVERSION = """[inversion]
max_iterations = {iterations}
cg_max_iterations = 60
cooling = 1.5
beta_ratio = {ratio}
[output]
folder = "{folder}"
sections = [{{ axis = "y", value = 0.0 }}]
"""
# Cooperative: DC and gravity take turns (2 Gauss-Newton steps each, 3 cycles), each
# inversion seeing the other's current model through the cross-gradient.  Solved
# simultaneously from the homogeneous start, the density's first, uncoupled steps set
# its shape before the conductivity has any structure to share, and the coupling only
# added regularization (README, "Joint inversion").
CROSS_GRADIENT_WEIGHT = 1e4
COUPLING = """[[coupling]]
kind = "cross_gradient"
blocks = ["log_conductivity", "density"]
scale = [1.0, 100.0]    # log(S/m) and 100 kg/m^3: unit-free, comparable gradients
weight = {weight}
[joint]
strategy = "cooperative"
cycles = 3
iterations = 2
"""


# Direct parameter coupling: density contrast (kg/m^3) = c0 + c1 log(sigma), the line
# through the two rock types (host 100 ohm m / 0 kg/m^3, ore 10 ohm m / +400 kg/m^3)
# that a petrophysical joint inversion takes from samples.  Only the log conductivity is
# inverted; the gravity data see it through the relation.
SLOPE = (TRUE_DENSITY["block"] - TRUE_DENSITY["earth"]) / np.log(TRUE_RHO["earth"] / TRUE_RHO["block"])
RELATION = (f'relation = {{ kind = "polynomial", coefficients = '
            f'[{TRUE_DENSITY["earth"] + SLOPE * np.log(TRUE_RHO["earth"]):.2f}, {SLOPE:.4f}] }}')
PETROPHYSICS = BLOCK_DC + DATA_DC + DATA_GRAVITY.replace(
    'block = "density"', f'block = "log_conductivity"\n{RELATION}') + REG_DC
RUNS = ("separate_dc", "separate_gravity", "joint_cross_gradient", "joint_petrophysics")
SEPARATE = {"log_conductivity": "separate_dc", "density": "separate_gravity"}  # the run of each property alone


def _true_models(block: np.ndarray) -> dict:
    """The true log conductivity (log S/m) and density contrast (kg/m^3) per cell."""
    return {"log_conductivity": np.where(block, -np.log(TRUE_RHO["block"]), -np.log(TRUE_RHO["earth"])),
            "density": np.where(block, TRUE_DENSITY["block"], TRUE_DENSITY["earth"])}


def _write(folder: str, name: str, text: str, comm) -> str:
    path = os.path.join(folder, name)
    if comm.rank == 0:
        with open(path, "w") as fh:
            fh.write(text)
    comm.Barrier()
    return path


def synthesize(folder: str, comm: MPI.Comm) -> None:
    """Collective: the demo mesh and its synthetic DC and gravity data in ``folder``."""
    from .forward import run_forward
    from .mesh.builder import build_mesh_from_spec

    if comm.rank == 0:
        os.makedirs(folder, exist_ok=True)
    comm.Barrier()
    build_mesh_from_spec(os.path.join(REPO, "meshes", "hill.toml"), os.path.join(folder, "hill.msh"), comm=comm)
    for name, text in (("forward_dc.toml", FORWARD_DC), ("forward_gravity.toml", FORWARD_GRAVITY)):
        run_forward(_write(folder, name, text, comm), comm)


def invert_config(body: str, iterations: int, output: str) -> str:
    """An inversion config of the demo: ``body`` (blocks, data sets, terms) plus the shared settings."""
    blocks = [b for b in RATIO if f"[model.{b}]" in body]
    ratio = (str(RATIO[blocks[0]]) if len(blocks) == 1
             else "{ " + ", ".join(f"{b} = {RATIO[b]}" for b in blocks) + " }")
    return '[mesh]\nfile = "hill.msh"\n' + body + INVERSION.format(iterations=iterations, ratio=ratio, folder=output)


JOINT = BLOCK_DC + BLOCK_DENSITY + DATA_DC + DATA_GRAVITY + REG_DC + REG_GRAVITY


def run_demo(folder: str, comm: MPI.Comm, cross_gradient_weight: float = CROSS_GRADIENT_WEIGHT,
             iterations: int = 15) -> dict:
    from .inversion.run import run_invert

    t0 = time.perf_counter()
    print0(f"== parjoint joint-inversion demo in {folder} on {comm.size} rank(s)", comm=comm)
    synthesize(folder, comm)
    runs = {
        "separate_dc": BLOCK_DC + DATA_DC + REG_DC,
        "separate_gravity": BLOCK_DENSITY + DATA_GRAVITY + REG_GRAVITY,
        "joint_cross_gradient": JOINT + COUPLING.format(weight=cross_gradient_weight),
        "joint_petrophysics": PETROPHYSICS,
    }
    for name, body in runs.items():
        print0(f"\n== inversion: {name}", comm=comm)
        run_invert(_write(folder, f"invert_{name}.toml", invert_config(body, iterations, name), comm), comm)
    results = _evaluate(folder, comm)
    _figure(folder, comm)
    results["seconds"] = time.perf_counter() - t0
    if comm.rank == 0:
        with open(os.path.join(folder, "demo_results.json"), "w") as fh:
            json.dump(results, fh, indent=1)
        print(_table(results))
        print(f"\ndemo finished in {results['seconds']:.0f} s; models, figures and configs in {folder}")
    return results


def _evaluate(folder: str, comm) -> dict:
    """Recovery figures of the three runs (computed on rank 0 from the written models)."""
    results = {}
    if comm.rank == 0:
        import h5py

        from .mesh.gmsh_reader import read_msh

        mesh = read_msh(os.path.join(folder, "hill.msh"))
        centroid = mesh.coords[mesh.cells].mean(axis=1)
        names = {n: t for t, n in mesh.region_names.items()}
        block = mesh.cell_region == names["block"]
        true = _true_models(block)
        core = (np.abs(centroid[:, 0]) < 400) & (np.abs(centroid[:, 1]) < 200) & (centroid[:, 2] > -250) & \
            (mesh.cell_region != names.get("air", -1))
        lo = centroid[block].min(axis=0)
        hi = centroid[block].max(axis=0)
        for run in RUNS:
            with h5py.File(os.path.join(folder, run, "model.h5"), "r") as fh:
                models = {k: fh[k][...] for k in ("log_conductivity", "density") if k in fh}
            history = json.load(open(os.path.join(folder, run, "history.json")))
            row = {"chi2": history[-1]["chi2_ratio"],
                   "iterations": sum(h.get("gn_iterations", 1) for h in history[1:]),
                   "seconds": sum(h["seconds"] for h in history),
                   "coupling_share": sum(h.get("coupling_seconds", 0.0) for h in history[1:])
                   / max(sum(h["seconds"] for h in history[1:]), 1e-300)}
            for prop, values in models.items():
                x = values[core]
                row[f"{prop}_correlation"] = float(np.corrcoef(x, true[prop][core])[0, 1])
                row[f"{prop}_edge_error_m"] = _edge_error(x, centroid[core], true[prop][core], lo, hi)
            results[run] = row
    return comm.bcast(results)


def _figure(folder: str, comm) -> None:
    """sections.png: log resistivity and density at y = 0, true / separate / the two joint runs."""
    import h5py

    from .inversion.figures import _pyplot, section_grid
    from .mesh import load_mesh
    from .mesh.locate import sample_cells

    mesh = load_mesh(os.path.join(folder, "hill.msh"), comm)
    block = mesh.cell_region == mesh.region_tag("block")
    earth = ~mesh.is_air
    true = _true_models(block)
    pts, A, B, axes = section_grid(np.array([[-450.0, 0.0, -300.0], [450.0, 0.0, 60.0]]), "y", 0.0)
    panels = {}
    rows = ("true", "separate") + tuple(r for r in RUNS if r not in SEPARATE.values())
    for run in rows:
        for prop in ("log_conductivity", "density"):
            if run == "true":
                values = true[prop]
            else:
                name = SEPARATE[prop] if run == "separate" else run
                with h5py.File(os.path.join(folder, name, "model.h5"), "r") as fh:
                    values = fh[prop][...][mesh.cell_original]
            values = np.where(earth, values, np.nan)
            if prop == "log_conductivity":
                values = -values / np.log(10.0)  # log10 resistivity
            panels[(run, prop)] = sample_cells(mesh, values, pts).reshape(A.shape)
    if comm.rank == 0:
        plt = _pyplot()
        fig, axs = plt.subplots(len(rows), 2, figsize=(12, 3 * len(rows)), sharex=True, sharey=True)
        limits = {"log_conductivity": (1.0, 2.1), "density": (-50.0, 400.0)}
        labels = {"log_conductivity": "log10 resistivity (ohm m)", "density": "density contrast (kg/m^3)"}
        for i, run in enumerate(rows):
            for j, prop in enumerate(("log_conductivity", "density")):
                ax = axs[i, j]
                im = ax.pcolormesh(A, B, np.ma.masked_invalid(panels[(run, prop)]), shading="auto",
                                   vmin=limits[prop][0], vmax=limits[prop][1],
                                   cmap="viridis_r" if j == 0 else "viridis")
                ax.plot([-100, 100, 100, -100, -100], [-20, -20, -80, -80, -20], "w--", lw=1)
                ax.set_title(f"{run}: {labels[prop]}")
                ax.set_aspect("equal")
                fig.colorbar(im, ax=ax, shrink=0.8)
        for ax in axs[-1]:
            ax.set_xlabel("x (m)")
        for ax in axs[:, 0]:
            ax.set_ylabel("z (m)")
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "sections.png"), dpi=110)
        plt.close(fig)


def _edge_error(x, centroid, true, lo, hi) -> float:
    """Mean distance (m) between the true block faces and the recovered body's faces.

    The recovered body is where the anomaly exceeds half of its largest value (the
    sign of the true anomaly); its faces are the 5th and 95th percentiles of its
    cells' coordinates.
    """
    background = np.median(x)
    anomaly = (x - background) * np.sign(np.max(true) - np.min(true) if np.max(true) > np.median(true) else -1)
    body = anomaly > 0.5 * anomaly.max()
    if body.sum() < 3:
        return float("nan")
    found_lo = np.percentile(centroid[body], 5, axis=0)
    found_hi = np.percentile(centroid[body], 95, axis=0)
    return float(np.mean(np.abs(np.concatenate([found_lo - lo, found_hi - hi]))))


def _table(results: dict) -> str:
    lines = ["", "model recovery (true block: 10 ohm m in 100 ohm m, +400 kg/m^3)",
             f"{'run':<21s} {'corr(log sigma)':>15s} {'edge err log s':>14s} {'corr(density)':>13s} "
             f"{'edge err rho':>12s} {'its':>4s}  chi^2/N"]
    for run in RUNS:
        r = results[run]

        def f(key, fmt):
            return format(r[key], fmt) if key in r else "-"

        lines.append(f"{run:<21s} {f('log_conductivity_correlation', '15.3f'):>15s} "
                     f"{f('log_conductivity_edge_error_m', '13.1f'):>14s} {f('density_correlation', '13.3f'):>13s} "
                     f"{f('density_edge_error_m', '11.1f'):>12s} {r['iterations']:4d}  "
                     + ", ".join(f"{c:.2f}" for c in r["chi2"]))
    lines.append("edge err: mean distance (m) between the true and the recovered block faces; the "
                 f"cross-gradient took {100 * results['joint_cross_gradient']['coupling_share']:.1f}% of its "
                 "run's time; joint_petrophysics inverts log sigma only, its density is the relation's image")
    return "\n".join(lines)
