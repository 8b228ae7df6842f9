"""``parjoint forward`` for ``physics = "dc"`` and ``physics = "ip"``.

Config (TOML; SI units)::

    physics = "dc"                     # or "ip"
    [mesh]
    file = "build/hill.msh"
    [model]
    resistivity = { earth = 100.0, block = 10.0 }    # ohm m, per region or {file, dataset}
    chargeability = { earth = 0.0, block = 0.1 }     # V/V, "ip" only
    [survey]
    file = "survey.dat"                # BERT/pyGIMLi unified (.dat .ohm .data) or UBC (.obs .dc .ip)
    # or a generated survey, electrodes draped on the mesh surface:
    # array = "dipole-dipole"          # wenner | schlumberger | dipole-dipole | pole-dipole | pole-pole
    # line = { start = [-500.0, 0.0], end = [500.0, 0.0], count = 21 }
    # grid = { x = [-500.0, 500.0], y = [-300.0, 300.0], nx = 11, ny = 7 }
    # n_max = 6                        # largest separation, in dipole lengths
    # spacings = 1                     # dipole-dipole: dipole lengths 1..spacings electrode spacings
    [simulation]
    order = 2                          # P1 or P2
    solver = "auto"                    # auto | amg | mumps  (PETSc options: -dc_...)
    geometric_factor = "numerical"     # numerical (homogeneous run on this mesh) | analytic (flat half-space)
    electrode_tolerance = 0.001        # m
    source_groups = 1                  # or "auto", or G dividing the rank count (see DCSimulation)
    ip_mode = "nonlinear"              # ip only: nonlinear | linear
    [noise]
    relative = 0.03                    # sd = relative |d| + floor
    floor = 0.0
    seed = 1
    [output]
    data = "synthetic.dat"             # relative to this file. BERT: r, rhoa, err, k (and ip); UBC: R or eta_a
    potential = "potential.xdmf"       # optional: pole potential of the first electrode (V for 1 A)
"""

from __future__ import annotations

import os

import numpy as np
from mpi4py import MPI

from ...config import Table
from ...errors import InputError
from ...forward import mesh_from_config
from ...model import property_from_config
from ...noise import add_noise, noise_from_config, standard_deviation
from ...parallel import atomic_output, on_root, print0
from .survey import ARRAYS, Survey, grid_electrodes, line_electrodes

BERT = (".dat", ".ohm", ".data", ".shm")
UBC = (".obs", ".dc", ".ip", ".txt")


def read_survey(path: str) -> Survey:
    """A survey file by extension: BERT unified format or UBC-GIF DCIP3D."""
    ext = os.path.splitext(path)[1].lower()
    if ext in BERT:
        from ...io.bert import read_bert

        return read_bert(path)
    if ext in UBC:
        from ...io.ubc_dc import read_ubc_dc

        return read_ubc_dc(path)[0]
    raise InputError(f"{path}: unknown survey format '{ext}' (BERT: {' '.join(BERT)}; UBC: {' '.join(UBC)})")


def survey_from_config(table: Table, mesh, comm: MPI.Comm) -> Survey:
    """Collective: the survey of a ``[survey]`` table (a file, or an array on a line or grid)."""
    from ...mesh.surface import surface_elevation

    if "file" in table:
        path = table.path("file")
        table.finish()
        return on_root(comm, lambda: read_survey(path))
    array = table.string("array", choices=tuple(ARRAYS))
    options = {}
    if array != "wenner" and array != "schlumberger":
        options["n_max"] = table.integer("n_max", 6, min=1)
    if array == "dipole-dipole":
        options["spacings"] = table.integer("spacings", 1, min=1)
    line, grid = table.raw("line", None), table.raw("grid", None)
    if (line is None) == (grid is None):
        raise table.error("array", "give exactly one of 'line' or 'grid' for the electrodes")
    if line is not None:
        sub = table.table("line")
        electrodes = line_electrodes(sub.vector("start", 2), sub.vector("end", 2), sub.integer("count", min=4))
        sub.finish()
        from .survey import line_survey

        survey = line_survey(electrodes, array, **options)
    else:
        sub = table.table("grid")
        from .survey import grid_survey

        survey = grid_survey(sub.vector("x", 2), sub.vector("y", 2), sub.integer("nx", min=4),
                             sub.integer("ny", min=4), array, **options)
        sub.finish()
    table.finish()
    survey.electrodes[:, 2] = surface_elevation(mesh, survey.electrodes[:, :2])
    return survey


def run_forward(config: Table, comm: MPI.Comm) -> None:
    from .ip import MODES, IPSimulation
    from .simulation import DCSimulation

    physics = config.string("physics")
    mesh = mesh_from_config(config, comm)
    model = config.table("model")
    rho = property_from_config(model, mesh, "resistivity", "ohm m", positive=True, default_region=1e8)
    eta = None
    if physics == "ip":
        eta = property_from_config(model, mesh, "chargeability", "V/V", default_region=0.0)
        if comm.allreduce(int(np.count_nonzero((eta < 0) | (eta >= 1)))):
            raise model.error("chargeability", "must lie in [0, 1) (V/V)")
    model.finish()
    survey = survey_from_config(config.table("survey"), mesh, comm)
    sim_cfg = config.table("simulation", None) or Table({}, config.source, "simulation.")
    order = sim_cfg.integer("order", 1, min=1)
    if order > 2:
        raise sim_cfg.error("order", "must be 1 or 2")
    solver = sim_cfg.string("solver", "auto", choices=("auto", "amg", "mumps"))
    kind = sim_cfg.string("geometric_factor", "numerical", choices=("numerical", "analytic"))
    tolerance = sim_cfg.number("electrode_tolerance", 1e-3, positive=True)
    groups = sim_cfg.raw("source_groups", 1)
    if groups != "auto" and (isinstance(groups, bool) or not isinstance(groups, int) or groups < 1
                             or comm.size % groups):
        raise sim_cfg.error("source_groups", f"must be \"auto\" or a divisor of the rank count {comm.size}")
    ip_mode = sim_cfg.string("ip_mode", "nonlinear", choices=MODES) if physics == "ip" else None
    sim_cfg.finish()
    noise = noise_from_config(config.table("noise", None))
    out = config.table("output")
    data_path = out.path("data", must_exist=False)
    potential_path = out.path("potential", None, must_exist=False)
    out.finish()
    config.finish()
    _check_output(data_path, comm)

    sim = DCSimulation(mesh, survey, order=order, method=solver, tolerance=tolerance, source_groups=groups)
    log_sigma = -np.log(rho)
    R = sim.dpred(log_sigma)
    k = geometric_factors(sim) if kind == "numerical" else survey.halfspace_geometric_factor()
    groups_used = sim.groups.n_groups if sim.groups else 1
    print0(f"dc: {survey.n_data} data, {len(sim.poles)} electrodes, P{order}, {sim.space.n_global} dofs, "
           f"solver {sim.method} in {groups_used} source group(s) (iterations per solve: {_its(sim)})", comm=comm)
    relative, floor, seed = noise
    columns: dict[str, np.ndarray]
    if physics == "dc":
        rhoa = k * R
        sd = standard_deviation(rhoa, relative, floor)
        rhoa_noisy = add_noise(rhoa, sd, seed)
        columns = {"r": rhoa_noisy / k, "rhoa": rhoa_noisy, "err": sd / np.abs(rhoa), "k": k}
        ubc_value, ubc_sd = rhoa_noisy / k, sd / np.abs(k)
    else:
        ip = IPSimulation(sim, log_sigma, ip_mode)
        eta_a = ip.dpred(eta)
        sd = standard_deviation(eta_a, relative, floor)
        eta_noisy = add_noise(eta_a, sd, seed)
        columns = {"r": R, "rhoa": k * R, "ip": eta_noisy, "k": k}
        ubc_value, ubc_sd = eta_noisy, sd
    write_survey_data(data_path, survey, columns, ubc_value, ubc_sd, physics == "ip", comm)
    print0(f"wrote {data_path}", comm=comm)
    if potential_path:
        _write_potential(sim, potential_path, log_sigma)
        print0(f"wrote {potential_path}", comm=comm)


def geometric_factors(sim) -> np.ndarray:
    """Collective: k = 1 / R of a homogeneous 1 ohm m earth on the same mesh (m).

    With these, a homogeneous earth of any resistivity gives rho_a equal to it, on any
    topography and whatever the discretisation error: both cancel in the ratio.
    """
    R = sim.dpred(np.zeros(sim.mesh.n_cells))
    with np.errstate(divide="ignore"):
        return 1.0 / R


def write_survey_data(path: str, survey: Survey, columns: dict, ubc_value, ubc_sd, ip: bool, comm) -> None:
    """Collective: write on rank 0, atomically, in the format of the file extension."""
    ext = os.path.splitext(path)[1].lower()
    with atomic_output(path, comm) as tmp:
        if comm.rank == 0:
            if ext in UBC:
                from ...io.ubc_dc import write_ubc_dc

                write_ubc_dc(tmp, survey, ubc_value, ubc_sd, ip)
            else:
                from ...io.bert import write_bert

                write_bert(tmp, survey, columns)


def _check_output(path: str, comm) -> None:
    ext = os.path.splitext(path)[1].lower()
    if ext not in BERT + UBC:
        raise InputError(f"{path}: unknown data format '{ext}' (BERT: {' '.join(BERT)}; UBC: {' '.join(UBC)})",
                         collective=True)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{path}: output folder {folder} does not exist", collective=True)


def _its(sim) -> str:
    its = (sim._group_sim if sim.groups else sim).solver.iterations
    return f"{min(its)}-{max(its)}" if its else "-"


def _write_potential(sim, path: str, log_sigma: np.ndarray) -> None:
    from ...io.xdmf import write_cell_fields

    mesh, sp = sim.mesh, sim.space
    U = sim.fields(log_sigma)
    values = np.full(len(mesh.vertex_coords), np.nan)
    has = sp.vertex_dof >= 0
    values[has] = U[0][sp.vertex_dof[has]]
    write_cell_fields(mesh, path, {"log10_resistivity": -log_sigma / np.log(10.0)},
                      {f"potential_electrode_{int(sim.poles[0]) + 1}": values})
