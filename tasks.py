"""invoke entry point: `invoke --list`. The work lives in the `oauthdance` package."""

from oauthdance.tasks import namespace

ns = namespace()
