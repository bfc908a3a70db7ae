/**
 * Entry point. oidc-spa must see the page before anything else runs: it handles
 * the authorization response in the URL and installs its fetch/XHR interceptors
 * (DPoP). The application itself is imported only when `shouldLoadApp` is true
 * (false inside oidc-spa's silent-renew iframe).
 */
import { oidcEarlyInit } from "oidc-spa/entrypoint";
import { DPoP } from "oidc-spa/DPoP";
import { config } from "./config";
import { installDpopProofCapture } from "./dpop-proof";

// Under oidc-spa's interceptor, so we can read the proofs it attaches (see dpop-proof.ts).
installDpopProofCapture();

const { shouldLoadApp } = oidcEarlyInit({
    BASE_URL: import.meta.env.BASE_URL,
    securityDefenses:
        config.oidcMock || config.dpop === "off"
            ? {}
            : { ...DPoP({ mode: config.dpop === "enforced" ? "enforced" : "auto" }) }
});

if (shouldLoadApp) {
    void import("./app");
}
