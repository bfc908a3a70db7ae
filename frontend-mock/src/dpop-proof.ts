/**
 * Application-level DPoP proofs (RFC 9449 section 4) for the WebSocket handshake.
 *
 * oidc-spa 10.x has no public API to sign a proof: its key pair is a
 * non-extractable P-256 CryptoKeyPair owned by the library. What it does
 * document is its fetch interceptor: a request carrying
 * `Authorization: Bearer <access token it issued>` leaves the page as
 * `Authorization: DPoP <token>` plus a fresh `DPoP: <proof>` whose htm/htu
 * are the request's method and URL (origin + path) and whose ath hashes the token.
 *
 * So we place one thin fetch wrapper *under* oidc-spa's interceptor (it must be
 * installed before `oidcEarlyInit()`): a request marked with CAPTURE_HEADER is
 * answered locally with the proof oidc-spa attached, and never hits the network.
 * Every other request passes through untouched.
 */

const CAPTURE_HEADER = "x-todo-spa-capture-dpop-proof";

let isInstalled = false;

/** Call once, before `oidcEarlyInit()`, so that oidc-spa's interceptor wraps this one. */
export function installDpopProofCapture(): void {
    if (isInstalled) {
        return;
    }
    isInstalled = true;

    const networkFetch = window.fetch.bind(window);

    window.fetch = (input, init) => {
        // Read the marker without building a Request: that would consume a body.
        const isCapture =
            init?.headers !== undefined
                ? new Headers(init.headers).has(CAPTURE_HEADER)
                : input instanceof Request && input.headers.has(CAPTURE_HEADER);

        if (!isCapture) {
            return networkFetch(input, init);
        }

        const headers = init?.headers !== undefined ? new Headers(init.headers) : (input as Request).headers;

        return Promise.resolve(
            Response.json({ proof: headers.get("DPoP"), authorization: headers.get("Authorization") })
        );
    };
}

/**
 * A proof for `GET htu` bound to `accessToken`, signed by oidc-spa's DPoP key.
 *
 * Returns undefined when oidc-spa did not upgrade the request: DPoP is off, the
 * IdP does not support it, or the token is not one oidc-spa issued (mock mode).
 */
export async function mintDpopProof(params: { htu: string; accessToken: string }): Promise<string | undefined> {
    const { htu, accessToken } = params;

    if (!isInstalled) {
        throw new Error("installDpopProofCapture() must run before oidcEarlyInit()");
    }

    const response = await fetch(htu, {
        method: "GET",
        cache: "no-store",
        headers: { Authorization: `Bearer ${accessToken}`, [CAPTURE_HEADER]: "1" }
    });

    const { proof, authorization } = (await response.json()) as { proof: string | null; authorization: string | null };

    // Both must show the upgrade; a bare proof with a Bearer header would be a bug.
    if (proof === null || authorization === null || !authorization.startsWith("DPoP ")) {
        return undefined;
    }

    return proof;
}
