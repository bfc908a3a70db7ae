// Run-time overrides for a built bundle; empty means "use the build-time VITE_* values".
// Keys: oidcIssuerUri, oidcClientId, oidcMock ("true"/"false"), oidcDpop ("enforced"/"auto"/"off"), apiUrl.
// Example: window.__TODO_SPA_CONFIG__ = { oidcMock: "true", apiUrl: "http://127.0.0.1:8001" };
window.__TODO_SPA_CONFIG__ = window.__TODO_SPA_CONFIG__ || {};
