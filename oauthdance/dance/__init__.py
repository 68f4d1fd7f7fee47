"""The steps of the dance: configure, authorize URL, code, exchange, verify; login with the
loopback callback or a pasted address; the device flow; status; and the demo against the
sandbox. Imports `keep`, `net`, `store`, `protocol`, `base` (and only the demo, the sandbox)."""
