/**
 * The live feed: the client side of the `todo.v1` WebSocket protocol of `/api/ws`,
 * described once in docs/websocket.md (token in `Sec-WebSocket-Protocol`, the
 * `auth.dpop` first message for DPoP-bound tokens, messages, close codes).
 *
 * oidc-spa renews the access token only when asked for it close to expiry, so we ask
 * shortly before the token in use expires and push it with `auth.refresh`.
 */
import type { Todo } from "./api";

export type LiveMessage =
    | { type: "ready"; seq: number }
    | { type: "todo.created" | "todo.updated"; todo: Todo; seq: number }
    | { type: "todo.deleted"; todo: Partial<Todo> & { id: string }; seq: number }
    /** The server may have dropped events for us: re-fetch. */
    | { type: "resync" }
    /** An auth.refresh was accepted. */
    | { type: "auth.ok"; expires_at?: number }
    /** A client message was refused; the socket stays open. */
    | { type: "error"; error?: string; detail?: string };

export type LiveStatus = "connecting" | "open" | "closed" | "stopped";

export type LiveOptions = {
    /** http(s) URL of the API, e.g. http://127.0.0.1:8000 */
    apiUrl: string;
    getAccessToken: () => Promise<string>;
    /** Force a token renewal (after a 4401 for the token we still hold). */
    renewAccessToken: () => Promise<string>;
    subscribeToTokenChange: (onToken: (accessToken: string) => void) => () => void;
    /** Milliseconds (server clock) before the current access token expires; undefined if unknown. */
    msUntilAccessTokenExpiry: () => Promise<number | undefined>;
    /** undefined: not DPoP-bound or proofs not available. */
    mintDpopProof: (params: { htu: string; accessToken: string }) => Promise<string | undefined>;
    isDpopBound: (accessToken: string) => boolean;
    /**
     * One cheap API request before a reconnect with a DPoP-bound token: if the API
     * demands DPoP nonces, oidc-spa learns the current one from its answer, and the
     * next proof carries it (a socket has no other way to receive a nonce).
     */
    refreshDpopNonce: () => Promise<unknown>;
    onMessage: (message: LiveMessage) => void;
    /** The list may have missed events (first ready, reconnect, or a seq gap): re-fetch it. */
    onResync: (reason: string) => void;
    onStatus: (status: LiveStatus, detail: string) => void;
    onError: (message: string) => void;
};

export const SUBPROTOCOL = "todo.v1";
export const CLOSE_TOKEN_EXPIRED = 4401;

/** oidc-spa's getTokens() renews when fewer than 30 s are left; ask a bit after that point. */
const REFRESH_BEFORE_EXPIRY_MS = 25_000;

export function startLive(options: LiveOptions): { stop: () => void } {
    const httpUrl = `${options.apiUrl}/api/ws`;
    const wsUrl = httpUrl.replace(/^http/, "ws");

    let socket: WebSocket | undefined;
    let stopped = false;
    let lastSeq: number | undefined;
    let attempt = 0;
    let retryTimer: number | undefined;
    let refreshTimer: number | undefined;
    let usedToken: string | undefined;
    let isReconnect = false;

    /** Extend the open socket with a renewed token (at most once per token). */
    async function pushToken(accessToken: string): Promise<void> {
        const ws = socket;
        if (ws?.readyState !== WebSocket.OPEN || accessToken === usedToken) return;
        usedToken = accessToken;
        const proof = await proofFor(accessToken);
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(JSON.stringify({ type: "auth.refresh", token: accessToken, ...(proof === undefined ? {} : { proof }) }));
        void armTokenRefresh();
    }

    /** A proof for the socket's URL when the token is DPoP-bound, else undefined. */
    async function proofFor(accessToken: string): Promise<string | undefined> {
        if (!options.isDpopBound(accessToken)) return undefined;
        const proof = await options.mintDpopProof({ htu: httpUrl, accessToken });
        if (proof === undefined) options.onError("WebSocket: token is DPoP-bound but no proof could be minted");
        return proof;
    }

    async function armTokenRefresh(): Promise<void> {
        window.clearTimeout(refreshTimer);
        const ms = await options.msUntilAccessTokenExpiry().catch(() => undefined);
        // Unknown or effectively never (the mock token): nothing to refresh.
        if (ms === undefined || ms > 86_400_000 || stopped) return;
        refreshTimer = window.setTimeout(() => {
            options
                .getAccessToken()
                .then(pushToken)
                .catch(error => options.onError(`WebSocket: token renewal failed: ${String(error)}`));
        }, Math.max(1_000, ms - REFRESH_BEFORE_EXPIRY_MS));
    }

    const unsubscribe = options.subscribeToTokenChange(accessToken => {
        pushToken(accessToken).catch(error => options.onError(`WebSocket: auth.refresh failed: ${String(error)}`));
    });

    async function connect(forceRenew: boolean): Promise<void> {
        if (stopped) return;
        options.onStatus("connecting", wsUrl);

        let proof: string | undefined;
        try {
            let token = await options.getAccessToken();
            if (forceRenew && token === usedToken) token = await options.renewAccessToken();
            usedToken = token;
            if (isReconnect && options.isDpopBound(token)) await options.refreshDpopNonce();
            isReconnect = true;
            proof = await proofFor(token);
        } catch (error) {
            options.onError(`WebSocket: could not prepare the connection: ${String(error)}`);
            scheduleReconnect(true);
            return;
        }
        if (stopped) return;

        const ws = new WebSocket(wsUrl, [SUBPROTOCOL, `authorization_bearer_${usedToken}`]);
        socket = ws;
        let openedAt: number | undefined;

        ws.addEventListener("open", () => {
            openedAt = Date.now();
            if (ws.protocol !== SUBPROTOCOL) {
                options.onError(`WebSocket: server selected subprotocol "${ws.protocol}", expected "${SUBPROTOCOL}"`);
                ws.close(1002, "subprotocol");
                return;
            }
            if (proof !== undefined) {
                ws.send(JSON.stringify({ type: "auth.dpop", proof }));
            }
            options.onStatus("open", wsUrl);
            void armTokenRefresh();
        });

        ws.addEventListener("message", event => {
            let message: LiveMessage | undefined;
            try {
                message = parseMessage(event.data);
            } catch (error) {
                options.onError(`WebSocket: unexpected message ${String(event.data).slice(0, 200)} (${String(error)})`);
                return;
            }
            if (message === undefined) return;
            options.onMessage(message);
            if (message.type === "resync") {
                options.onResync("server asked for a resync");
                return;
            }
            if (!("seq" in message)) return;
            const previous = lastSeq;
            lastSeq = message.seq;
            if (message.type === "ready") {
                attempt = 0; // the server accepted us: reset the back-off
                // First connection or reconnect: we cannot know what happened meanwhile.
                if (previous !== message.seq) options.onResync(`ready seq=${message.seq}, last seen ${previous ?? "none"}`);
            } else if (previous !== undefined && message.seq !== previous + 1) {
                options.onResync(`seq jumped from ${previous} to ${message.seq}`);
            }
        });

        ws.addEventListener("close", event => {
            if (socket === ws) socket = undefined;
            window.clearTimeout(refreshTimer);
            const detail = `code ${event.code}${event.reason ? ` (${event.reason})` : ""}`;
            if (stopped) {
                options.onStatus("stopped", detail);
                return;
            }
            options.onStatus("closed", detail);
            if (event.code === CLOSE_TOKEN_EXPIRED) {
                // Expected: reconnect with a fresh token, at once unless it keeps happening.
                if (openedAt !== undefined && Date.now() - openedAt > 5_000) {
                    void connect(true);
                } else {
                    options.onError(`WebSocket closed with ${detail} right after opening`);
                    scheduleReconnect(true, true);
                }
                return;
            }
            if (openedAt === undefined) {
                options.onError(`WebSocket ${wsUrl} refused or unreachable before open (${detail})`);
            } else if (event.code !== 1000) {
                options.onError(`WebSocket closed by server: ${detail}`);
            }
            scheduleReconnect(true);
        });
    }

    function scheduleReconnect(countAttempt: boolean, forceRenew = false): void {
        if (stopped) return;
        if (countAttempt) attempt += 1;
        const delayMs = Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5));
        retryTimer = window.setTimeout(() => void connect(forceRenew), delayMs);
    }

    void connect(false);

    return {
        stop: () => {
            stopped = true;
            unsubscribe();
            window.clearTimeout(retryTimer);
            window.clearTimeout(refreshTimer);
            socket?.close(1000, "client stop");
        }
    };
}

/** Validates the shape we rely on; undefined for messages we do not use (e.g. pong). */
function parseMessage(data: unknown): LiveMessage | undefined {
    if (typeof data !== "string") throw new Error("not a text frame");
    const value: unknown = JSON.parse(data);
    if (typeof value !== "object" || value === null) throw new Error("not an object");
    const { type, seq, todo } = value as { type?: unknown; seq?: unknown; todo?: unknown };
    switch (type) {
        case "resync":
        case "auth.ok":
        case "error":
            return value as LiveMessage;
        case "pong":
            return undefined;
        case "ready":
        case "todo.created":
        case "todo.updated":
        case "todo.deleted":
            if (typeof seq !== "number" || !Number.isInteger(seq)) throw new Error("missing integer seq");
            if (type !== "ready" && (typeof todo !== "object" || todo === null || typeof (todo as { id?: unknown }).id !== "string")) {
                throw new Error("missing todo.id");
            }
            return value as LiveMessage;
        default:
            throw new Error(`unknown type ${String(type)}`);
    }
}
