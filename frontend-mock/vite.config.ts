import { defineConfig, type Plugin } from "vite";

/**
 * oidc-spa declares `"sideEffects": false`, so the bundler (rolldown, Vite 8)
 * empties the WebCrypto polyfill chunk that oidc-spa imports only for its side
 * effects when `crypto.subtle` is missing (pages served over plain http from a
 * host other than localhost/127.0.0.1). Mark that one module as side-effectful.
 */
function keepWebcryptoShim(): Plugin {
    return {
        name: "keep-oidc-spa-webcrypto-shim",
        transform(code, id) {
            return id.includes("webcrypto-liner-shim") ? { code, map: null, moduleSideEffects: true } : null;
        }
    };
}

// Keycloak's redirect URIs for `todo-spa` are http://localhost:5173/* and
// http://127.0.0.1:5173/*, so the dev server and preview both stay on 5173.
export default defineConfig({
    plugins: [keepWebcryptoShim()],
    server: { host: "127.0.0.1", port: 5173, strictPort: true },
    preview: { host: "127.0.0.1", port: 5173, strictPort: true },
    build: { outDir: "dist", sourcemap: true }
});
