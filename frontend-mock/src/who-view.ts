/** "Who is logged in": the API's view of the caller (GET /api/me). */
import type { Me } from "./api";
import { h } from "./dom";

export const whoBox = h("dl", { "data-testid": "who" });

export function renderMe(me: Me | undefined): void {
    whoBox.replaceChildren();
    if (me === undefined) return;
    const row = (label: string, testId: string, value: string, extra: Record<string, string> = {}) =>
        [h("dt", {}, label), h("dd", { "data-testid": testId, ...extra }, value)];
    whoBox.append(
        ...row("Subject", "user-subject", me.subject),
        ...row("Name", "user-name", me.name ?? ""),
        ...row("Username", "user-username", me.username ?? ""),
        ...row("Email", "user-email", me.email ?? ""),
        ...row("Roles", "user-roles", me.roles.join(", ")),
        ...row("Groups", "user-groups", me.groups.join(", ")),
        ...row("Client", "user-client-id", me.client_id ?? ""),
        ...row("Scopes", "user-scopes", me.scopes.join(" ")),
        ...row("DPoP-bound token", "dpop-bound", me.dpop_bound ? "yes" : "no", { "data-value": String(me.dpop_bound) }),
        ...row(
            "Token expires",
            "token-expires-at",
            me.token_expires_at === null ? "" : new Date(me.token_expires_at * 1000).toISOString(),
            { "data-value": String(me.token_expires_at) }
        ),
        ...row("Issuer", "user-issuer", me.issuer)
    );
}
