/// <reference types="vite/client" />

interface ImportMetaEnv {
    readonly VITE_OIDC_ISSUER_URI?: string;
    readonly VITE_OIDC_CLIENT_ID?: string;
    readonly VITE_OIDC_MOCK?: string;
    readonly VITE_OIDC_DPOP?: string;
    readonly VITE_API_URL?: string;
}

interface ImportMeta {
    readonly env: ImportMetaEnv;
}

interface Window {
    /** Optional run-time overrides, set by public/config.js (see README). */
    __TODO_SPA_CONFIG__?: Partial<Record<"oidcIssuerUri" | "oidcClientId" | "oidcMock" | "oidcDpop" | "apiUrl", string>>;
}
