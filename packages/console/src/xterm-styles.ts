/**
 * xterm.js writes part of its styling (cell sizes, theme colours) into `<style>` elements it
 * creates, which the console's Content-Security-Policy (`style-src 'self'`, no inline styles)
 * blocks. This copies their text into constructed stylesheets adopted by the document, which the
 * policy does not govern, and follows later changes (a resize rewrites the cell sizes). Only
 * xterm's own generated rules pass through: nothing from the terminal's output reaches them.
 */
export function adoptXtermStyles(container: HTMLElement): () => void {
  const sheets = new Map<HTMLStyleElement, CSSStyleSheet>();
  const sync = (): void => {
    for (const el of container.querySelectorAll('style')) {
      let sheet = sheets.get(el);
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheets.set(el, sheet);
        document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      }
      sheet.replaceSync(el.textContent ?? '');
    }
  };
  const observer = new MutationObserver(sync);
  observer.observe(container, { childList: true, subtree: true, characterData: true });
  sync();
  return () => {
    observer.disconnect();
    const ours = new Set(sheets.values());
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => !ours.has(s));
  };
}
