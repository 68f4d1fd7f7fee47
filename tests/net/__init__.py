"""Everything that sends: timeouts, redirects, plain http, the fetch transport."""
