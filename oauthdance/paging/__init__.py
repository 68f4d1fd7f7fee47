"""Paginated fetching: `FetchOptions` (options), the engine that puts together following
pages (page), sending ahead (window), the rate-limit gate (gate) and refusals as advice
(refusal) over a typed page source (source); the ETag cache, the writers and progress.
Imports `keep`, `net`, `protocol`, `base`."""
