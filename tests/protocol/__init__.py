"""The protocol's pure rules and the provider data: OAuth functions, presets, providers files."""
