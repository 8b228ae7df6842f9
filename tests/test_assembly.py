"""The assembly pattern and its matrices, against PETSc's own assembly.

:class:`parjoint.fem.assembly.Pattern` hands PETSc value arrays in its split layout and
adds ghost rows into their owners' rows through a PetscSF.  The reference here is
independent of all that: the same element matrices inserted with ``MatSetValuesLocal``
(ADD_VALUES) into an ordinary preallocated AIJ matrix, which PETSc sums through its
own stash.  Marked ``mpi``: run on 1, 2 and 4 ranks, so ghost rows owned by one or
several other ranks are covered.
"""

from __future__ import annotations

import numpy as np
import pytest

from parjoint.fem.assembly import Pattern
from parjoint.fem.nedelec import EdgeSpace
from parjoint.fem.space import NodalSpace
from parjoint.mesh import load_mesh
from parjoint.petsc import PETSc

pytestmark = pytest.mark.mpi


@pytest.fixture(scope="module")
def mesh(block_mesh, comm):
    return load_mesh(block_mesh, comm)


def _spaces(mesh):
    return {"P1": NodalSpace(mesh, 1), "P2": NodalSpace(mesh, 2), "edges": EdgeSpace(mesh)}


def _dofs(space):
    return space.kernel.dofs if isinstance(space, EdgeSpace) else space.cell_dofs


def _reference(space, dofs, elements):
    """The matrix assembled by PETSc from the element matrices (MatSetValuesLocal, ADD)."""
    mat = space.create_matrix()
    mat.setPreallocationNNZ((200, 200))
    mat.setOption(PETSc.Mat.Option.NEW_NONZERO_ALLOCATION_ERR, False)
    for cell_dofs, element in zip(dofs, elements):
        mat.setValuesLocal(cell_dofs.astype(PETSc.IntType), cell_dofs.astype(PETSc.IntType), element,
                           addv=PETSc.InsertMode.ADD_VALUES)
    mat.assemble()
    return mat


@pytest.mark.parametrize("kind", ["P1", "P2", "edges"])
def test_pattern_matrix_equals_petsc_assembly(mesh, comm, kind):
    space = _spaces(mesh)[kind]
    dofs = _dofs(space)
    pattern = Pattern(space, dofs)
    mat = pattern.new_matrix()
    rng = np.random.default_rng(7 + comm.rank)
    for trial in range(2):  # a refill must replace the values, not add to them
        elements = rng.standard_normal((len(dofs), dofs.shape[1], dofs.shape[1]))
        values = np.zeros(pattern.nnz)
        np.add.at(values, pattern.cell_slots.ravel(), elements.ravel())
        pattern.fill(mat, values)
        ref = _reference(space, dofs, elements)
        x = ref.createVecRight()
        x.setRandom()
        y, y_ref = ref.createVecLeft(), ref.createVecLeft()
        mat.mult(x, y)
        ref.mult(x, y_ref)
        assert (y - y_ref).norm() <= 1e-13 * y_ref.norm(), trial
        diff = ref.copy()
        diff.axpy(-1.0, mat, structure=PETSc.Mat.Structure.DIFFERENT_NONZERO_PATTERN)
        assert diff.norm() <= 1e-13 * ref.norm(), trial
        assert mat.getInfo()["nz_used"] == ref.getInfo()["nz_used"]  # the same pattern, no extra entries
        ref.destroy()
        diff.destroy()
    mat.destroy()
    pattern.destroy()


def test_solver_sees_refilled_values(mesh, comm):
    """A KSP set up on a pattern matrix uses the values of a refill (PETSc sees the new state)."""
    space = NodalSpace(mesh, 1)
    pattern = Pattern(space, space.cell_dofs)
    mat = pattern.new_matrix()
    rows = np.repeat(np.arange(space.n_local), np.diff(pattern.rowptr))
    on_diagonal = pattern.cols == rows
    counts = space.create_vec()
    space.add_local(np.ones(space.n_local), counts)  # how many ranks hold each owned dof
    ksp = PETSc.KSP().create(comm=comm)
    ksp.setType("preonly")
    ksp.getPC().setType("jacobi")
    for scale in (2.0, 5.0):
        # scale on every local diagonal: the owners' rows sum it over the ranks holding the dof
        pattern.fill(mat, np.where(on_diagonal, scale, 0.0))
        ksp.setOperators(mat)
        b = mat.createVecLeft()
        b.set(1.0)
        x = mat.createVecRight()
        ksp.solve(b, x)
        assert np.allclose(x.getArray(), 1.0 / (scale * counts.getArray()), rtol=1e-14)
    ksp.destroy()
    mat.destroy()
    pattern.destroy()
