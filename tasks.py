"""invoke entry point: `invoke --list`. The work lives in the `oauthdance` package."""

import os
import sys

# invoke turns bytecode caching off so that a tasks.py leaves no .pyc behind; this file is
# loaded by now, and the package it imports should be cached like any library (a third of
# a task's start-up otherwise). PYTHONDONTWRITEBYTECODE, where set, still wins.
if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
    sys.dont_write_bytecode = False

from oauthdance.tasks import namespace

ns = namespace()
