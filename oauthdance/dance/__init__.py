"""The steps of the dance: configure, authorize URL, code, exchange, verify; login with the
loopback callback or a pasted address; the device flow; status; and the demo against the
sandbox. `steps` is each step as one call over a target, answering with a `results` type:
the tasks print it, the Python API returns it. Imports `keep`, `net`, `store`, `protocol`,
`base` (and only the demo, the sandbox)."""
