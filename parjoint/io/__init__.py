"""File input and output: XDMF+HDF5 fields for ParaView, data formats, checkpoints."""
