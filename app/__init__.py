"""The TODO API: per-user todos behind OIDC access tokens, with live updates."""
