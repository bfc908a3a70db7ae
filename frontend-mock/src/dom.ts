/** A tiny element builder: enough for a fixture page, no framework. */
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attrs: Attrs = {},
    ...children: Child[]
): HTMLElementTagNameMap[K] {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
        if (value === null || value === undefined || value === false) continue;
        if (typeof value === "function") {
            element.addEventListener(name.replace(/^on/, "").toLowerCase(), value);
        } else if (name === "value" && "value" in element) {
            (element as HTMLInputElement).value = String(value);
        } else if (name === "checked" && element instanceof HTMLInputElement) {
            element.checked = value === true;
        } else {
            element.setAttribute(name, value === true ? "" : String(value));
        }
    }
    element.append(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map(c => (typeof c === "number" ? String(c) : c)));
    return element;
}

/** The element with `data-testid=<id>` that index.html provides. */
export function byTestId<T extends HTMLElement = HTMLElement>(id: string): T {
    const element = document.querySelector<T>(`[data-testid="${id}"]`);
    if (element === null) throw new Error(`index.html lacks data-testid="${id}"`);
    return element;
}
