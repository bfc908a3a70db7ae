/**
 * The OIDC client: oidc-spa against Keycloak (Authorization Code + PKCE S256,
 * DPoP-bound tokens when enabled in main.ts), or oidc-spa's own mock adapter.
 *
 * In mock mode no IdP is contacted; the page sends the fixed dummy token below,
 * which the API's mock auth mode accepts as its development identity.
 */
import type { Oidc } from "oidc-spa/core";
import { config } from "./config";

export const MOCK_ACCESS_TOKEN = "mock-access-token";

export async function createTodoOidc(): Promise<Oidc> {
    if (config.oidcMock) {
        const { createMockOidc } = await import("oidc-spa/core-mock");

        // Logged in on load; logout()/login() flip a `?isUserLoggedIn=` URL parameter.
        return createMockOidc({
            isUserInitiallyLoggedIn: true,
            BASE_URL: import.meta.env.BASE_URL,
            mockedParams: { issuerUri: config.oidcIssuerUri, clientId: config.oidcClientId },
            mockedTokens: {
                accessToken: MOCK_ACCESS_TOKEN,
                decodedIdToken: {
                    iss: config.oidcIssuerUri,
                    sub: "mock-user",
                    aud: config.oidcClientId,
                    exp: 4102444800,
                    iat: 0,
                    name: "Mock User",
                    preferred_username: "mock"
                }
            }
        });
    }

    const { createOidc } = await import("oidc-spa/core");

    return createOidc({
        issuerUri: config.oidcIssuerUri,
        clientId: config.oidcClientId,
        // roles/groups come from the access token; "profile email" give name/email to /api/me.
        scopes: ["profile", "email"],
        BASE_URL: import.meta.env.BASE_URL,
        debugLogs: import.meta.env.DEV
    });
}
