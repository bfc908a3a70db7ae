/**
 * Settings, read once: build-time `VITE_*` variables, overridden by the
 * optional run-time `window.__TODO_SPA_CONFIG__` (public/config.js), so one
 * build can be pointed at another API or switched to mock mode without a rebuild.
 */
export type DpopMode = "enforced" | "auto" | "off";

export type Config = {
    oidcIssuerUri: string;
    oidcClientId: string;
    /** No Keycloak: oidc-spa's own mock adapter, a fixed dummy access token. */
    oidcMock: boolean;
    dpop: DpopMode;
    /** API origin (and optional path prefix), without a trailing slash. */
    apiUrl: string;
};

function readConfig(): Config {
    const runtime = window.__TODO_SPA_CONFIG__ ?? {};
    const env = import.meta.env;

    const pick = (runtimeValue: string | undefined, envValue: string | undefined, fallback: string) =>
        runtimeValue?.trim() || envValue?.trim() || fallback;

    const dpop = pick(runtime.oidcDpop, env.VITE_OIDC_DPOP, "enforced");
    if (dpop !== "enforced" && dpop !== "auto" && dpop !== "off") {
        throw new Error(`VITE_OIDC_DPOP must be "enforced", "auto" or "off", got "${dpop}"`);
    }

    return {
        oidcIssuerUri: pick(runtime.oidcIssuerUri, env.VITE_OIDC_ISSUER_URI, "http://127.0.0.1:8180/realms/todo"),
        oidcClientId: pick(runtime.oidcClientId, env.VITE_OIDC_CLIENT_ID, "todo-spa"),
        oidcMock: ["true", "1", "yes"].includes(pick(runtime.oidcMock, env.VITE_OIDC_MOCK, "false").toLowerCase()),
        dpop,
        apiUrl: pick(runtime.apiUrl, env.VITE_API_URL, "http://127.0.0.1:8000").replace(/\/+$/, "")
    };
}

export const config: Config = readConfig();
