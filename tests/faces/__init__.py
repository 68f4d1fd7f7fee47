"""The faces: the Python API, the notebooks' helpers (compat), the `oauthdance` command."""
