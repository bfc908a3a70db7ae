"""Benchmarks of the TODO API and its ``auth`` package against oidc-spa/server (issue 7)."""
