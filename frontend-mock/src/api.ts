/**
 * The TODO API client. Every call sends `Authorization: Bearer <access token>`;
 * when DPoP is on, oidc-spa's fetch interceptor rewrites it to
 * `Authorization: DPoP <token>` + `DPoP: <proof>` on the way out.
 *
 * Failures become ApiError, carrying the status, the `WWW-Authenticate`
 * challenge and the RFC 9457 problem body, so the page can show all of them.
 */

export type Todo = {
    id: string;
    text: string;
    done: boolean;
    created_at: string;
    updated_at: string;
    version: number;
};

export type TodoPage = { items: Todo[]; next_cursor: string | null };

export type Me = {
    subject: string;
    issuer: string;
    name: string | null;
    email: string | null;
    username: string | null;
    roles: string[];
    groups: string[];
    client_id: string | null;
    scopes: string[];
    dpop_bound: boolean;
    /** null when the API runs without real tokens (mock auth). */
    token_expires_at: number | null;
};

export type Problem = {
    type?: string;
    title?: string;
    status?: number;
    detail?: string;
    error?: string;
    errors?: { field: string; message: string }[];
};

export class ApiError extends Error {
    constructor(
        readonly method: string,
        readonly url: string,
        /** 0 when the request never got an HTTP answer (network, CORS). */
        readonly status: number,
        readonly wwwAuthenticate: string | null,
        readonly problem: Problem | null,
        readonly bodyText: string | null
    ) {
        super(
            `${method} ${url} -> ${status === 0 ? "network error" : status}` +
                (problem?.detail ? `: ${problem.detail}` : problem?.title ? `: ${problem.title}` : "")
        );
        this.name = "ApiError";
    }
}

/** A successful response: the parsed body (if any) and the item's ETag (if sent). */
export type ApiResult<T> = { data: T; etag: string | null; status: number };

export type TodoApi = ReturnType<typeof createTodoApi>;

export function createTodoApi(params: { apiUrl: string; getAccessToken: () => Promise<string> }) {
    const { apiUrl, getAccessToken } = params;

    async function call<T>(
        method: string,
        path: string,
        options: { body?: unknown; ifMatch?: string | null } = {}
    ): Promise<ApiResult<T>> {
        const url = `${apiUrl}${path}`;
        const headers = new Headers({ Accept: "application/json, application/problem+json" });
        headers.set("Authorization", `Bearer ${await getAccessToken()}`);
        if (options.body !== undefined) {
            headers.set("Content-Type", "application/json");
        }
        if (options.ifMatch) {
            headers.set("If-Match", options.ifMatch);
        }

        let response: Response;
        try {
            response = await fetch(url, {
                method,
                headers,
                body: options.body === undefined ? null : JSON.stringify(options.body),
                cache: "no-store"
            });
        } catch (error) {
            throw new ApiError(method, url, 0, null, null, String(error));
        }

        const text = await response.text();
        const isJson = /\bjson\b/i.test(response.headers.get("Content-Type") ?? "");
        let body: unknown = null;
        if (text !== "" && isJson) {
            try {
                body = JSON.parse(text);
            } catch {
                body = null;
            }
        }

        if (!response.ok) {
            const problem = body !== null && typeof body === "object" ? (body as Problem) : null;
            throw new ApiError(method, url, response.status, response.headers.get("WWW-Authenticate"), problem, text || null);
        }

        return { data: body as T, etag: response.headers.get("ETag"), status: response.status };
    }

    return {
        me: () => call<Me>("GET", "/api/me"),
        listTodos: (query: { limit?: number; cursor?: string | null; done?: boolean | null }) => {
            const search = new URLSearchParams();
            if (query.limit !== undefined) search.set("limit", String(query.limit));
            if (query.cursor) search.set("cursor", query.cursor);
            if (query.done !== undefined && query.done !== null) search.set("done", String(query.done));
            const qs = search.toString();
            return call<TodoPage>("GET", `/api/todos${qs ? `?${qs}` : ""}`);
        },
        createTodo: (text: string) => call<Todo>("POST", "/api/todos", { body: { text } }),
        updateTodo: (id: string, patch: { text?: string; done?: boolean }, ifMatch: string | null) =>
            call<Todo>("PATCH", `/api/todos/${encodeURIComponent(id)}`, { body: patch, ifMatch }),
        deleteTodo: (id: string, ifMatch: string | null) =>
            call<null>("DELETE", `/api/todos/${encodeURIComponent(id)}`, { ifMatch }),
        adminStats: () => call<unknown>("GET", "/api/admin/stats")
    };
}
