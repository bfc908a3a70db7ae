// The peer of the HTTP benchmark: a minimal Hono TODO server on Node using
// oidc-spa/server, the shape of oidc-spa's Hono example.
//   ISSUER_URI=... AUDIENCE=todo-api PORT=... [AUTH=off] node server.mjs
// GET /api/me returns the caller's identity; GET /api/todos returns the caller's
// newest 20 todos from memory, in the JSON shape of the Python API's TodoPage.
// AUTH=off skips token validation entirely (the "no auth" row).
import { randomUUID } from "node:crypto";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { oidcSpa, extractRequestAuthContext } from "oidc-spa/server";

const authOn = process.env.AUTH !== "off";
const { bootstrapAuth, validateAndDecodeAccessToken } = oidcSpa.createUtils();
if (authOn) {
    await bootstrapAuth({
        implementation: "real",
        issuerUri: process.env.ISSUER_URI,
        expectedAudience: process.env.AUDIENCE
    });
}

const staticIdentity = { iss: "urn:bench:no-auth", sub: "dev-user", aud: "todo-api", exp: 0, iat: 0 };
const todosBySubject = new Map();

function todosOf(subject) {
    let todos = todosBySubject.get(subject);
    if (todos === undefined) {
        const now = new Date().toISOString();
        todos = Array.from({ length: 20 }, (_, n) => ({
            id: randomUUID(),
            text: `todo number ${n} of the benchmark user`,
            done: n % 3 === 0,
            created_at: now,
            updated_at: now,
            version: 1
        }));
        todosBySubject.set(subject, todos);
    }
    return todos;
}

const app = new Hono();

app.use("/api/*", async (c, next) => {
    if (!authOn) {
        c.set("token", staticIdentity);
        return next();
    }
    const context = extractRequestAuthContext({ request: c.req, trustProxy: false });
    if (context === undefined || !context.isWellFormed) {
        return c.json({ error: "invalid_request" }, 401, { "WWW-Authenticate": 'Bearer realm="todo-api"' });
    }
    const result = await validateAndDecodeAccessToken(context.accessTokenAndMetadata);
    if (!result.isSuccess) {
        return c.json({ error: "invalid_token" }, 401, { "WWW-Authenticate": 'Bearer error="invalid_token"' });
    }
    c.set("token", result.decodedAccessToken);
    return next();
});

app.get("/api/me", c => {
    const token = c.get("token");
    const roles = token.realm_access?.roles ?? [];
    return c.json({
        subject: token.sub,
        issuer: token.iss,
        name: token.name ?? null,
        email: token.email ?? null,
        username: token.preferred_username ?? null,
        roles: [...roles].sort(),
        groups: token.groups ?? [],
        client_id: token.client_id ?? token.azp ?? null,
        scopes: (token.scope ?? "").split(" ").filter(Boolean).sort(),
        dpop_bound: token.cnf?.jkt !== undefined,
        token_expires_at: token.exp
    });
});

app.get("/api/todos", c => c.json({ items: todosOf(c.get("token").sub), next_cursor: null }));

app.get("/healthz", c => c.json({ status: "ok" }));

serve({ fetch: app.fetch, hostname: "127.0.0.1", port: Number(process.env.PORT) });
