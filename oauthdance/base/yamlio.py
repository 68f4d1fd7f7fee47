"""YAML through libyaml's C loader and dumper where PyYAML has them (about 10x faster than
the pure-Python ones: the provider presets are read on every task)."""

from __future__ import annotations

from typing import Any

import yaml

YAMLError = yaml.YAMLError
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # a safe loader, C or Python


def dump(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
