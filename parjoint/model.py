"""Per-cell physical properties: reading them from a config or a file, writing them.

Cells are identified across rank counts by their index in the mesh file
(``Mesh.cell_original``), so a model file is a set of HDF5 datasets of length
``n_cells_global`` in mesh-file order, with units stated in a ``units`` attribute.
It can be read by any number of ranks and written from any partition.
"""

from __future__ import annotations

import os

import numpy as np

from .config import Table
from .errors import InputError
from .parallel import atomic_output, on_root


def property_from_config(table: Table, mesh, key: str, units: str, *, positive: bool = False,
                         default_region: float | None = None) -> np.ndarray:
    """Collective: the per-cell value of property ``key`` for the local cells.

    The config gives either constants per region, ``key = { earth = 100.0, block = 10.0 }``
    (regions not named take ``default_region``, or are an error if it is None; a
    plain number applies to every region), or a per-cell array from an HDF5 model
    file, ``key = { file = "model.h5", dataset = "resistivity" }``, whose NaN entries (cells
    outside the inversion model that wrote it, such as air) take ``default_region``.
    """
    value = table.raw(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        out = np.full(mesh.n_cells, float(value))
    elif isinstance(value, dict) and "file" in value:
        sub = table.table(key)
        path = sub.path("file")
        dataset = sub.string("dataset", key)
        sub.finish()
        out = read_cell_array(path, dataset, mesh)
        if default_region is not None:  # NaN: a cell outside the model that wrote the file (air)
            out[np.isnan(out)] = default_region
    elif isinstance(value, dict):
        sub = table.table(key)
        out = np.full(mesh.n_cells, np.nan)
        for name in list(value):
            if name not in mesh.region_names.values():
                raise sub.error(name, f"no region of that name in the mesh (regions: "
                                      f"{', '.join(mesh.region_names.values())})")
            out[mesh.cell_region == mesh.region_tag(name)] = sub.number(name)
        sub.finish()
        missing = [n for n in mesh.region_names.values() if n not in value]
        if default_region is not None:
            out[np.isnan(out)] = default_region
        elif missing:
            raise table.error(key, f"no value for region(s) {', '.join(missing)} ({units})")
    else:
        raise table.error(key, f"expected a number, a table of region values or {{ file = ..., dataset = ... }} "
                               f"({units})")
    bad = ~np.isfinite(out) | ((out <= 0) if positive else False)
    if mesh.comm.allreduce(int(np.count_nonzero(bad))):
        raise table.error(key, f"values must be finite{' and positive' if positive else ''} ({units})")
    return out


def read_cell_array(path: str, dataset: str, mesh) -> np.ndarray:
    """Collective: dataset ``dataset`` of an HDF5 model file, for the local cells."""

    def check():
        import h5py

        if not os.path.exists(path):
            raise InputError(f"{path}: no such file")
        try:
            with h5py.File(path, "r") as fh:
                if dataset not in fh:
                    raise InputError(f"{path}: no dataset '{dataset}' (has: {', '.join(fh.keys())})")
                shape = fh[dataset].shape
        except OSError as exc:
            raise InputError(f"{path}: cannot read as HDF5 ({exc})") from None
        if shape != (mesh.n_cells_global,):
            raise InputError(f"{path}: dataset '{dataset}' has shape {shape}; the mesh has "
                             f"{mesh.n_cells_global} cells")

    on_root(mesh.comm, check)
    import h5py

    with h5py.File(path, "r") as fh:
        values = fh[dataset][...]
    return np.asarray(values, dtype=np.float64)[mesh.cell_original]


def write_cell_arrays(path: str, arrays: dict[str, tuple[np.ndarray, str]], mesh) -> None:
    """Collective: write ``name -> (per-cell values, units)`` in mesh-file order, atomically."""
    order = mesh.comm.gather(mesh.cell_original)
    gathered = {name: (mesh.comm.gather(np.asarray(values, dtype=np.float64)), units)
                for name, (values, units) in arrays.items()}
    with atomic_output(path, mesh.comm) as tmp:
        if mesh.comm.rank == 0:
            import h5py

            index = np.concatenate(order)
            with h5py.File(tmp, "w") as fh:
                fh.attrs["n_cells"] = mesh.n_cells_global
                fh.attrs["mesh"] = mesh.source
                for name, (parts, units) in gathered.items():
                    full = np.empty(mesh.n_cells_global)
                    full[index] = np.concatenate(parts)
                    fh[name] = full
                    fh[name].attrs["units"] = units
