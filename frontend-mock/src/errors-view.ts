/**
 * The error area: every failure stays on screen with what the API said
 * (status, `WWW-Authenticate`, RFC 9457 problem fields), newest first.
 */
import { ApiError } from "./api";
import { h } from "./dom";

export const errorList = h("ul", { "data-testid": "error-list", class: "errors" });

export function showError(error: unknown, context: string): void {
    console.error(context, error);
    const item = h("li", { "data-testid": "error" }, h("strong", {}, context));
    if (error instanceof ApiError) {
        item.dataset.status = String(error.status);
        const p = error.problem;
        const lines = [
            h("div", { "data-testid": "error-status" }, `${error.method} ${error.url} → ${error.status === 0 ? "no HTTP response" : `HTTP ${error.status}`}`),
            error.wwwAuthenticate !== null && h("div", { "data-testid": "error-www-authenticate" }, `WWW-Authenticate: ${error.wwwAuthenticate}`),
            p?.error !== undefined && h("div", { "data-testid": "error-code" }, `error: ${p.error}`),
            p?.title !== undefined && h("div", { "data-testid": "error-title" }, `title: ${p.title}`),
            p?.detail !== undefined && h("div", { "data-testid": "error-detail" }, `detail: ${p.detail}`),
            ...(p?.errors ?? []).map(e => h("div", { "data-testid": "error-field" }, `${e.field}: ${e.message}`)),
            p === null && error.bodyText !== null && h("div", { "data-testid": "error-detail" }, error.bodyText.slice(0, 500))
        ];
        item.append(...lines.filter(line => line !== false));
    } else {
        item.append(h("div", { "data-testid": "error-detail" }, error instanceof Error ? error.message : String(error)));
    }
    errorList.prepend(item);
}

export async function guarded<T>(context: string, action: () => Promise<T>): Promise<T | undefined> {
    try {
        return await action();
    } catch (error) {
        showError(error, context);
        return undefined;
    }
}
