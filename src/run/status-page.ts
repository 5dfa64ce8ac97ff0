/**
 * What the front door answers when nothing good can serve (DESIGN §9): 503 with
 * Retry-After, and for a browser a small page that refreshes itself and says what is
 * happening and what fixes it. Pure: every value that came from a log or a commit is
 * HTML-escaped here, and nothing in it runs anything.
 */
export interface Unavailable {
  site: string;
  /** One sentence: what is happening now. */
  headline: string;
  /** The commit concerned, when there is one (short sha and what is known of it). */
  commit: string | null;
  /** The last lines of the failing server's output. */
  tail: string[];
  /** The commands that help, whole. */
  fixes: string[];
}

export const RETRY_AFTER_S = 3;

export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

export function renderUnavailableHtml(u: Unavailable): string {
  const e = escapeHtml;
  const tail = u.tail.length ? `<h2>Last lines of the server log</h2>\n<pre>${u.tail.map(e).join('\n')}</pre>\n` : '';
  const fixes = u.fixes.map((f) => `<li><code>${e(f)}</code></li>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${RETRY_AFTER_S}">
<title>${e(u.site)}: not serving yet</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#222}pre{background:#f4f4f4;padding:.8rem;overflow:auto;font-size:13px}code{background:#f4f4f4;padding:0 .2rem}</style>
</head>
<body>
<h1>localhost-ops: ${e(u.site)}</h1>
<p><strong>${e(u.headline)}</strong></p>
${u.commit ? `<p>Commit: ${e(u.commit)}</p>\n` : ''}${tail}<h2>What helps</h2>
<ul>
${fixes}
</ul>
<p>This page reloads itself every ${RETRY_AFTER_S} seconds.</p>
</body>
</html>
`;
}

export function renderUnavailableText(u: Unavailable): string {
  return (
    [
      `localhost-ops: ${u.site}: ${u.headline}`,
      ...(u.commit ? [`commit: ${u.commit}`] : []),
      ...u.fixes.map((f) => `fix: ${f}`),
    ].join('\n') + '\n'
  );
}

/** A browser asks for text/html; curl and fetch get the plain text. */
export function wantsHtml(accept: string | undefined): boolean {
  return typeof accept === 'string' && accept.includes('text/html');
}
