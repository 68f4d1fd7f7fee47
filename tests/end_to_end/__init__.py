"""The whole system: the dance step by step, a real browser, signals, the fleet, hostile
servers, conformance against Authlib, the README, the config examples and scripts, and the
harness itself."""
