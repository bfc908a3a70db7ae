/**
 * The page: who is logged in (GET /api/me), the todo list, the live pane
 * (WebSocket /api/ws), an admin probe and an error area that keeps every
 * failure on screen. Elements carry data-testid attributes for Playwright;
 * `body[data-state]` is "loading", "logged-out", "ready" or "error".
 */
import "./style.css";
import type { Oidc } from "oidc-spa/core";
import { decodeJwt } from "oidc-spa/decode-jwt";
import { ApiError, createTodoApi, type Todo, type TodoApi } from "./api";
import { config } from "./config";
import { h } from "./dom";
import { mintDpopProof } from "./dpop-proof";
import { errorList, guarded, showError } from "./errors-view";
import { startLive, type LiveMessage, type LiveStatus } from "./live";
import { createTodoOidc } from "./oidc";
import { renderMe, whoBox } from "./who-view";

type Filter = "all" | "open" | "done";

const PAGE_SIZE = 20;
const MAX_EVENTS = 50;

let currentApi: TodoApi | undefined;
let loadGeneration = 0;

const state = {
    todos: [] as Todo[],
    /** ETag from the last item response seen *in this tab*; WebSocket events carry none. */
    etags: new Map<string, string>(),
    nextCursor: null as string | null,
    filter: "all" as Filter,
    editingId: null as string | null,
    liveStatus: "connecting" as LiveStatus,
    liveDetail: ""
};

const root = document.getElementById("app")!;
const todoList = h("ul", { "data-testid": "todo-list", class: "todos" });
const moreButton = h("button", { "data-testid": "todos-more", hidden: true, onclick: () => void loadTodos(true) }, "Load more");
const liveStatusLine = h("p", { "data-testid": "live-status" });
const liveList = h("ol", { "data-testid": "live-events", class: "events", reversed: true });
const adminResult = h("pre", { "data-testid": "admin-stats-result" });
const clientBox = h("p", { "data-testid": "client-info", class: "muted" });

// ---- todos ----------------------------------------------------------------------------------

function matchesFilter(todo: Todo): boolean {
    return state.filter === "all" || (state.filter === "done") === todo.done;
}

function renderTodos(): void {
    // Keep an open editor as it is (typed text, focus) while live events re-render the rest.
    const editing =
        state.editingId === null
            ? null
            : todoList.querySelector<HTMLElement>(`[data-id="${CSS.escape(state.editingId)}"][data-editing="true"]`);
    todoList.replaceChildren(
        ...state.todos.map(todo => (editing !== null && todo.id === state.editingId ? editing : renderTodo(todo)))
    );
    moreButton.hidden = state.nextCursor === null;
}

function renderTodo(todo: Todo): HTMLElement {
    const etag = state.etags.get(todo.id) ?? "";
    const item = h("li", {
        "data-testid": "todo-item",
        "data-id": todo.id,
        "data-version": todo.version,
        "data-done": String(todo.done),
        "data-etag": etag,
        class: todo.done ? "done" : ""
    });

    const toggle = h("input", {
        type: "checkbox",
        "data-testid": "todo-toggle",
        checked: todo.done,
        "aria-label": "done",
        onchange: () => void patchTodo(todo.id, { done: !todo.done })
    });

    if (state.editingId === todo.id) {
        item.dataset.editing = "true";
        const input = h("input", { "data-testid": "todo-edit-input", value: todo.text, maxlength: 1000 });
        const save = () => {
            state.editingId = null;
            void patchTodo(todo.id, { text: input.value });
        };
        const cancel = () => {
            state.editingId = null;
            renderTodos();
        };
        input.addEventListener("keydown", e => {
            if (e.key === "Enter") save();
            if (e.key === "Escape") cancel();
        });
        item.append(
            toggle,
            input,
            h("button", { "data-testid": "todo-save", onclick: save }, "Save"),
            h("button", { "data-testid": "todo-cancel", onclick: cancel }, "Cancel")
        );
        queueMicrotask(() => input.focus());
        return item;
    }

    item.append(
        toggle,
        h("span", { "data-testid": "todo-text", class: "text" }, todo.text),
        h("small", { "data-testid": "todo-version", class: "muted", title: etag ? `If-Match: ${etag}` : "no ETag held" }, `v${todo.version}`),
        h("button", { "data-testid": "todo-edit", onclick: () => ((state.editingId = todo.id), renderTodos()) }, "Edit"),
        h("button", { "data-testid": "todo-delete", onclick: () => void removeTodo(todo.id) }, "Delete")
    );
    return item;
}

/** Merge one todo into the view (from a response or a live event); never goes back in version. */
function upsertTodo(todo: Todo, etag: string | null): void {
    const index = state.todos.findIndex(t => t.id === todo.id);
    const current = index === -1 ? undefined : state.todos[index];
    if (current !== undefined && current.version > todo.version) return;
    if (etag !== null) state.etags.set(todo.id, etag);

    if (!matchesFilter(todo)) {
        if (index !== -1) state.todos.splice(index, 1);
    } else if (index !== -1) {
        state.todos[index] = todo;
    } else {
        // Only show it if it falls inside the pages already loaded (newest first).
        const oldest = state.todos.at(-1);
        if (state.nextCursor === null || oldest === undefined || todo.created_at >= oldest.created_at) {
            state.todos.push(todo);
            state.todos.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
        }
    }
    renderTodos();
}

function dropTodo(id: string): void {
    state.todos = state.todos.filter(t => t.id !== id);
    state.etags.delete(id);
    if (state.editingId === id) state.editingId = null;
    renderTodos();
}

// ---- live pane ------------------------------------------------------------------------------

function renderLiveStatus(): void {
    liveStatusLine.dataset.status = state.liveStatus;
    liveStatusLine.textContent = `WebSocket: ${state.liveStatus}${state.liveDetail ? ` — ${state.liveDetail}` : ""}`;
}

function appendLiveEvent(message: LiveMessage): void {
    const summary =
        "todo" in message
            ? ` ${message.todo.id}${message.todo.text !== undefined ? ` “${message.todo.text}”` : ""}`
            : message.type === "error"
              ? ` ${message.error ?? ""} ${message.detail ?? ""}`
              : "";
    const seq = "seq" in message ? message.seq : undefined;
    liveList.prepend(
        h(
            "li",
            { "data-testid": "live-event", "data-type": message.type, "data-seq": seq },
            `${new Date().toLocaleTimeString()}${seq === undefined ? "" : ` #${seq}`} ${message.type}${summary}`
        )
    );
    while (liveList.children.length > MAX_EVENTS) liveList.lastElementChild?.remove();
}

function renderLoggedOut(oidc: Oidc.NotLoggedIn): void {
    if (oidc.initializationError !== undefined) showError(oidc.initializationError, "OIDC initialisation error");
    root.replaceChildren(
        h("header", {}, h("h1", {}, "TODO"), h("p", { "data-testid": "mode", class: "muted" }, modeLabel)),
        h("button", { "data-testid": "login", onclick: () => void oidc.login({ doesCurrentHrefRequiresAuth: false }) }, "Log in"),
        h("section", {}, h("h2", {}, "Errors"), errorList)
    );
    document.body.dataset.state = "logged-out";
}

function renderLoggedIn(oidc: Oidc.LoggedIn): void {
    const getAccessToken = async () => (await oidc.getTokens()).accessToken;
    const api = createTodoApi({ apiUrl: config.apiUrl, getAccessToken });
    currentApi = api;

    const isDpopBound = (accessToken: string): boolean => {
        try {
            const cnf = (decodeJwt(accessToken) as { cnf?: { jkt?: unknown } }).cnf;
            return typeof cnf?.jkt === "string";
        } catch {
            return false; // not a JWT: the mock token
        }
    };

    const newTodoInput = h("input", { "data-testid": "new-todo-input", placeholder: "What needs doing?", maxlength: 1000 });
    const filterSelect = h(
        "select",
        { "data-testid": "todo-filter", onchange: () => ((state.filter = filterSelect.value as Filter), void loadTodos(false)) },
        h("option", { value: "all" }, "all"),
        h("option", { value: "open" }, "open"),
        h("option", { value: "done" }, "done")
    );

    root.replaceChildren(
        h(
            "header",
            {},
            h("h1", {}, "TODO"),
            h("p", { "data-testid": "mode", class: "muted" }, modeLabel),
            h("button", { "data-testid": "logout", onclick: () => logout() }, "Log out")
        ),
        h("section", { class: "errors-box" }, h("h2", {}, "Errors ", h("button", { "data-testid": "errors-clear", onclick: () => errorList.replaceChildren() }, "Clear")), errorList),
        h("section", {}, h("h2", {}, "Who is logged in"), whoBox, clientBox),
        h(
            "section",
            {},
            h("h2", {}, "Todos"),
            h(
                "form",
                {
                    "data-testid": "new-todo-form",
                    onsubmit: (e: Event) => {
                        e.preventDefault();
                        void addTodo(newTodoInput.value).then(ok => ok && (newTodoInput.value = ""));
                    }
                },
                newTodoInput,
                h("button", { type: "submit", "data-testid": "add-todo" }, "Add"),
                " Show ",
                filterSelect,
                h("button", { type: "button", "data-testid": "todos-refresh", onclick: () => void loadTodos(false) }, "Refresh")
            ),
            todoList,
            moreButton
        ),
        h("section", {}, h("h2", {}, "Live"), liveStatusLine, liveList),
        h(
            "section",
            {},
            h("h2", {}, "Admin"),
            h("button", { "data-testid": "admin-stats", onclick: () => void loadAdminStats() }, "GET /api/admin/stats"),
            adminResult
        )
    );
    document.body.dataset.state = "ready";

    let live: { stop: () => void } | undefined;
    const logout = () => {
        live?.stop();
        void oidc.logout({ redirectTo: "home" });
    };

    void guarded("Reading the access token", async () => {
        const bound = isDpopBound(await getAccessToken());
        clientBox.textContent = `Access token as the SPA sees it: ${bound ? "DPoP-bound (cnf.jkt present)" : "not DPoP-bound"}.`;
        clientBox.dataset.dpopBound = String(bound);
    });

    // The socket starts once /api/me has answered: by then oidc-spa holds the API's
    // DPoP nonce (if it uses them), which the socket's first proof must carry.
    const meLoaded = guarded("GET /api/me", async () => {
        renderMe((await api.me()).data);
    });
    void loadTodos(false);

    void meLoaded.then(() => {
        live = startLive({
            apiUrl: config.apiUrl,
            getAccessToken,
            renewAccessToken: async () => (await oidc.renewTokens(), getAccessToken()),
            subscribeToTokenChange: onToken => oidc.subscribeToTokensChange(t => onToken(t.accessToken)).unsubscribeFromTokensChange,
            msUntilAccessTokenExpiry: async () => {
                const tokens = await oidc.getTokens();
                return tokens.accessTokenExpirationTime - tokens.getServerDateNow();
            },
            mintDpopProof,
            isDpopBound,
            refreshDpopNonce: () => api.me(),
            onMessage: message => {
                appendLiveEvent(message);
                if (message.type === "todo.deleted") dropTodo(message.todo.id);
                else if (message.type === "todo.created" || message.type === "todo.updated") upsertTodo(message.todo, null);
                else if (message.type === "error") showError(new Error(`${message.error ?? "error"}: ${message.detail ?? ""}`), "Live feed refused a message");
            },
            onResync: () => void loadTodos(false),
            onStatus: (status, detail) => {
                state.liveStatus = status;
                state.liveDetail = detail;
                renderLiveStatus();
            },
            onError: message => showError(new Error(message), "Live feed")
        });
    });
}

// ---- actions --------------------------------------------------------------------------------

const apiOrThrow = () => {
    if (currentApi === undefined) throw new Error("not logged in");
    return currentApi;
};

async function loadTodos(append: boolean): Promise<void> {
    const generation = ++loadGeneration;
    const done = state.filter === "all" ? null : state.filter === "done";
    await guarded("GET /api/todos", async () => {
        const { data } = await apiOrThrow().listTodos({ limit: PAGE_SIZE, cursor: append ? state.nextCursor : null, done });
        if (generation !== loadGeneration) return; // a newer load superseded this one
        state.todos = append ? [...state.todos, ...data.items.filter(t => !state.todos.some(s => s.id === t.id))] : data.items;
        state.nextCursor = data.next_cursor;
        renderTodos();
    });
}

async function addTodo(text: string): Promise<boolean> {
    const result = await guarded("POST /api/todos", () => apiOrThrow().createTodo(text));
    if (result === undefined) return false;
    upsertTodo(result.data, result.etag);
    return true;
}

async function patchTodo(id: string, patch: { text?: string; done?: boolean }): Promise<void> {
    try {
        const { data, etag } = await apiOrThrow().updateTodo(id, patch, state.etags.get(id) ?? null);
        upsertTodo(data, etag);
    } catch (error) {
        await onWriteFailed(error, `PATCH /api/todos/${id}`, id);
    }
}

async function removeTodo(id: string): Promise<void> {
    try {
        await apiOrThrow().deleteTodo(id, state.etags.get(id) ?? null);
        dropTodo(id);
    } catch (error) {
        await onWriteFailed(error, `DELETE /api/todos/${id}`, id);
    }
}

async function onWriteFailed(error: unknown, context: string, id: string): Promise<void> {
    showError(error, context);
    if (error instanceof ApiError && (error.status === 412 || error.status === 404)) {
        // Our copy is stale: forget its ETag and show the server's current list.
        state.etags.delete(id);
        await loadTodos(false);
    } else {
        renderTodos(); // undo the optimistic checkbox state
    }
}

async function loadAdminStats(): Promise<void> {
    adminResult.textContent = "";
    const result = await guarded("GET /api/admin/stats", () => apiOrThrow().adminStats());
    adminResult.textContent = result === undefined ? "(failed, see Errors)" : JSON.stringify(result.data, null, 2);
}

// ---- boot ---------------------------------------------------------------------------------

const oidc = await createTodoOidc().catch(error => {
    showError(error, "OIDC initialisation failed");
    root.replaceChildren(h("section", {}, h("h2", {}, "Errors"), errorList));
    document.body.dataset.state = "error";
    throw error;
});

const modeLabel = `${config.oidcMock ? "mock auth (no IdP)" : `OIDC ${config.oidcIssuerUri}`} · client ${config.oidcClientId} · DPoP ${config.oidcMock ? "n/a" : config.dpop} · API ${config.apiUrl}`;

if (!oidc.isUserLoggedIn) {
    renderLoggedOut(oidc);
} else {
    renderLoggedIn(oidc);
}
