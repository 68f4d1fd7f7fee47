"""The steps of the dance: login and its callback, the device flow, redirects."""
