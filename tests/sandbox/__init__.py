"""The sandbox provider on its own: GitHub's rules, and `sandbox.serve` with its state."""
