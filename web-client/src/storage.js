// The browser's storage, where it is allowed. With cookies and site data blocked, even reading
// `localStorage` or `sessionStorage` throws (a SecurityError), and a module that read it as a
// default argument stopped the whole page as it loaded ("Connecting…" for good). These answer
// undefined instead; the callers then keep their choices for the page only.

/** This browser's `localStorage` for the page's origin, or undefined where it is refused. */
export function localStore() {
  try { return globalThis.localStorage ?? undefined; } catch { return undefined; }
}

/** This tab's `sessionStorage` for the page's origin, or undefined where it is refused. */
export function sessionStore() {
  try { return globalThis.sessionStorage ?? undefined; } catch { return undefined; }
}
