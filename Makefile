# parjoint — two commands on a fresh machine:
#   make demo   install what is missing, then run the main job
#   make test   install what is missing, then run the whole test suite (serial, 2 and 4 ranks)
# The install runs once (.venv/.parjoint-installed); delete .venv to redo it.

VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.parjoint-installed
MPIRUN  ?= mpirun
# Open MPI refuses root and more ranks than cores unless told; harmless elsewhere.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1
# one thread per MPI rank: BLAS threads would compete with the ranks for the cores
export OMP_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
TIMEOUT := timeout --kill-after=30

.PHONY: demo test install bench clean

install: $(STAMP)

$(STAMP): pyproject.toml .ci/install.sh
	sh .ci/install.sh $(VENV)
	touch $@

demo: $(STAMP)
	$(TIMEOUT) 1200 $(MPIRUN) -n 2 $(PY) -m parjoint demo build/demo

test: $(STAMP)
	$(TIMEOUT) 1800 $(PY) -m pytest -q tests
	$(TIMEOUT) 900 $(MPIRUN) -n 2 $(PY) -m pytest -q --color=no -m mpi tests
	$(TIMEOUT) 900 $(MPIRUN) -n 4 $(PY) -m pytest -q --color=no -m mpi tests

bench: $(STAMP)
	$(PY) benchmarks/mesh_bench.py
	$(PY) benchmarks/dc_bench.py
	$(PY) benchmarks/potential_bench.py
	$(PY) benchmarks/mt_bench.py
	$(PY) benchmarks/inversion_bench.py
	$(PY) benchmarks/coupling_bench.py

clean:
	rm -rf build benchmarks/work
