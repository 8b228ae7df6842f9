"""The ``parjoint`` command line.

    parjoint info
    parjoint forward config.toml
    parjoint invert config.toml [--restart]
    parjoint demo [folder]
    parjoint mesh build spec.toml -o mesh.msh
    parjoint mesh report mesh.msh|mesh.h5
    parjoint mesh convert mesh.msh -o mesh.h5
    parjoint mesh export mesh.msh|mesh.h5 -o mesh.xdmf

Run any command under ``mpirun -n N`` / ``srun``.  PETSc options (``-log_view``,
``-ksp_monitor``, ``-dm_plex_...``) go after parjoint's own arguments: everything
from the first single-dash word longer than two characters on is handed to PETSc
(``PETSC_OPTIONS`` in the environment works too).

Bad input (a missing or malformed file, an unknown key, a value out of range) gives
one line ``parjoint: error: ...`` naming the file and key, and exit code 2 on every
rank.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback


def split_petsc_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split ``argv`` into parjoint's arguments and the trailing PETSc options."""
    for i, word in enumerate(argv):
        if word.startswith("-") and not word.startswith("--") and len(word) > 2 and not _is_number(word):
            return argv[:i], argv[i:]
    return argv, []


def _is_number(word: str) -> bool:
    try:
        float(word)
        return True
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parjoint",
        description="Parallel 3-D joint inversion on tetrahedral meshes (MPI + PETSc).",
        epilog="PETSc options go last, e.g.  parjoint mesh report m.msh -log_view",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    sub.add_parser("info", help="versions of parjoint, PETSc, its packages and MPI; rank count")
    forward = sub.add_parser("forward", help="synthetic data for one physics from a TOML config")
    forward.add_argument("config", help="forward configuration (TOML; see README 'Forward modelling')")
    demo = sub.add_parser("demo", help="the joint DC + gravity inversion demo (make demo)")
    demo.add_argument("folder", nargs="?", default="build/demo", help="output folder (default build/demo)")
    invert = sub.add_parser("invert", help="(joint) inversion of one or more data sets from a TOML config")
    invert.add_argument("config", help="inversion configuration (TOML; see README 'Inversion')")
    invert.add_argument("--restart", action="store_true", help="continue from the checkpoint in the output folder")

    mesh = sub.add_parser("mesh", help="build, inspect, convert and export tetrahedral meshes")
    msub = mesh.add_subparsers(dest="mesh_command", required=True, metavar="action")
    build = msub.add_parser("build", help="build a topographic tetrahedral mesh from a TOML spec (gmsh)")
    build.add_argument("spec", help="mesh specification (TOML; see meshes/*.toml)")
    build.add_argument("-o", "--output", required=True, help="output gmsh .msh (format 4.1)")
    build.add_argument("--ascii", action="store_true", help="write ASCII .msh instead of binary")
    report = msub.add_parser("report", help="load, distribute and print a mesh report")
    report.add_argument("mesh", help=".msh (gmsh 4.1) or .h5 (saved by 'parjoint mesh convert')")
    convert = msub.add_parser("convert", help="distribute a .msh and save it as parallel HDF5")
    convert.add_argument("mesh", help="input .msh or .h5")
    convert.add_argument("-o", "--output", required=True, help="output .h5")
    export = msub.add_parser("export", help="write regions, volumes, quality and ranks to XDMF+HDF5")
    export.add_argument("mesh", help="input .msh or .h5")
    export.add_argument("-o", "--output", required=True, help="output .xdmf (data go to <output>.h5 beside it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, petsc_args = split_petsc_options(argv)
    args = build_parser().parse_args(own)  # exits with code 2 on usage errors

    from . import PETSC_ARGS

    PETSC_ARGS[:] = petsc_args
    from . import petsc  # noqa: F401  (initialises PETSc with those options)
    from mpi4py import MPI

    from .errors import InputError

    comm = MPI.COMM_WORLD
    try:
        _dispatch(args, comm)
    except InputError as exc:
        if exc.collective or comm.size == 1:
            if comm.rank == 0:
                print(f"parjoint: error: {exc}", file=sys.stderr, flush=True)
            return 2
        print(f"parjoint: error (rank {comm.rank}): {exc}", file=sys.stderr, flush=True)
        comm.Abort(2)
    except KeyboardInterrupt:
        comm.Abort(130) if comm.size > 1 else None
        return 130
    except Exception:  # a bug: show it, and never leave other ranks waiting
        traceback.print_exc()
        sys.stderr.flush()
        if comm.size > 1:
            comm.Abort(1)
        return 1
    return 0


def _dispatch(args, comm) -> None:
    if args.command == "info":
        from .info import print_info

        print_info(comm)
    elif args.command == "forward":
        from .forward import run_forward

        run_forward(args.config, comm)
    elif args.command == "demo":
        from .demo import run_demo

        run_demo(args.folder, comm)
    elif args.command == "invert":
        from .inversion.run import run_invert

        run_invert(args.config, comm, restart=args.restart)
    elif args.command == "mesh":
        _mesh_command(args, comm)


def _mesh_command(args, comm) -> None:
    from .parallel import print0

    if args.mesh_command == "build":
        from .mesh.builder import build_mesh_from_spec

        build_mesh_from_spec(args.spec, args.output, binary=not args.ascii, comm=comm)
        return

    from .mesh import load_mesh

    mesh = load_mesh(args.mesh, comm)
    if args.mesh_command == "report":
        from .mesh.report import mesh_report

        print0(mesh_report(mesh), comm=comm)
    elif args.mesh_command == "convert":
        _require_suffix(args.output, ".h5")
        mesh.save(args.output)
        print0(f"wrote {args.output} ({mesh.n_cells_global} cells on {comm.size} ranks)", comm=comm)
    elif args.mesh_command == "export":
        _require_suffix(args.output, ".xdmf")
        from .mesh.report import export_mesh_fields

        export_mesh_fields(mesh, args.output)
        print0(f"wrote {args.output}", comm=comm)


def _require_suffix(path: str, suffix: str) -> None:
    from .errors import InputError

    if not path.endswith(suffix):
        raise InputError(f"{path}: output file name must end in {suffix}", collective=True)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(f"{path}: output folder {folder} does not exist", collective=True)


if __name__ == "__main__":
    sys.exit(main())
