"""Where `bench/fleet.py` finds the OpenBao dev server: it puts tests/ on sys.path and imports
`openbao`. The code lives in tests/support/openbao.py; this goes once the benchmark imports
`tests.support.openbao` itself."""

from tests.support.openbao import Bao, start_bao

__all__ = ["Bao", "start_bao"]
