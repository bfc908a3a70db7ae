"""Benchmarks of the TODO API and its ``auth`` package, side by side with oidc-spa/server,
each figure against its goal."""
