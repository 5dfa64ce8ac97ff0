/**
 * The report as text or JSON. Pure: colour comes in as a Style (identity when off), and
 * $HOME is shown as ~ here, once, for whatever the checks wrote (they write plain
 * absolute paths). The layout is the same with or without colour.
 */
import { tildify } from '../site/paths.js';
import type { CheckReport, Report, Status } from './types.js';

export interface Style {
  ok(s: string): string;
  warn(s: string): string;
  fail(s: string): string;
  skip(s: string): string;
  bold(s: string): string;
}

const same = (s: string) => s;
export const plainStyle: Style = { ok: same, warn: same, fail: same, skip: same, bold: same };

export interface TextOptions {
  style: Style;
  /** Adds every check's detail and evidence. */
  verbose: boolean;
  home?: string;
  /** A line under the heading (the diagnosis file says when and why it was written). */
  note?: string;
}

const MARK: Record<Status, string> = { ok: '✓', warn: '!', fail: '✗', skip: '-' };
const ID_WIDTH = 16; // "server-process" and two spaces
const INDENT = ' '.repeat(2 + ID_WIDTH);

function indent(text: string): string[] {
  return text.split('\n').map((l) => INDENT + l);
}

/** The one thing to do next: the first failure's command, else the first warning's. */
export function getNextStep(report: Report): string {
  const first = report.checks.find((c) => c.status === 'fail') ?? report.checks.find((c) => c.status === 'warn');
  if (!first) return `nothing to do; the site is at ${report.url}`;
  return first.command ?? first.fix ?? `see ${first.id} above`;
}

function countLine(report: Report): string {
  const n = (s: Status) => report.checks.filter((c) => c.status === s).length;
  const [fails, warns] = [n('fail'), n('warn')];
  const part = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  if (report.verdict === 'ok') return 'ok, every check passed';
  if (report.verdict === 'warnings') return `warnings (${part(warns, 'warning')}); the site works`;
  return `problems (${part(fails, 'failed check')}${warns ? `, ${part(warns, 'warning')}` : ''})`;
}

function renderCheck(c: CheckReport, opts: TextOptions): string[] {
  const paint = opts.style[c.status];
  const lines = [
    `${paint(MARK[c.status])} ${c.id.padEnd(ID_WIDTH)}${c.status === 'skip' ? opts.style.skip(c.summary) : c.summary}`,
  ];
  const problem = c.status === 'warn' || c.status === 'fail';
  if (c.detail && (problem || opts.verbose)) lines.push(...indent(c.detail));
  if (problem && c.fix) lines.push(...indent(`${paint('fix:')} ${c.fix}`));
  if (opts.verbose) for (const e of c.evidence ?? []) lines.push(...indent(opts.style.skip(`· ${e}`)));
  return lines;
}

function renderVerdict(report: Report, style: Style): string[] {
  const paint = report.verdict === 'ok' ? style.ok : report.verdict === 'warnings' ? style.warn : style.fail;
  return [`${paint('Verdict:')} ${countLine(report)}`, `${style.bold('Next:')} ${getNextStep(report)}`];
}

export function renderText(report: Report, opts: TextOptions): string {
  const lines = [opts.style.bold(`localhost-ops doctor: ${report.heading}`)];
  if (opts.note) lines.push(opts.note);
  lines.push('');
  for (const c of report.checks) lines.push(...renderCheck(c, opts));
  lines.push('', ...renderVerdict(report, opts.style));
  return tildify(lines.join('\n'), opts.home) + '\n';
}

/** The short form install ends with: only the checks that found something, then the verdict. */
export function renderSummary(report: Report, opts: TextOptions): string {
  const lines: string[] = [];
  for (const c of report.checks) if (c.status === 'warn' || c.status === 'fail') lines.push(...renderCheck(c, opts));
  lines.push(...renderVerdict(report, opts.style));
  return tildify(lines.join('\n'), opts.home) + '\n';
}

/** Exactly the documented shape: evidence and commands stay out of it. */
export function renderJson(report: Report, home?: string): string {
  const t = (s: string | undefined) => (s === undefined ? null : tildify(s, home));
  const doc = {
    schemaVersion: 1,
    site: report.site,
    url: report.url,
    servedSha: report.servedSha,
    verdict: report.verdict,
    next: tildify(getNextStep(report), home),
    checks: report.checks.map((c) => ({
      id: c.id,
      title: c.title,
      status: c.status,
      summary: t(c.summary),
      detail: t(c.detail),
      fix: t(c.fix),
    })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

/** Several sites (doctor without --name): one document holding each site's. */
export function renderJsonAll(reports: Report[], home?: string): string {
  const sites = reports.map((r) => JSON.parse(renderJson(r, home)) as unknown);
  return JSON.stringify({ schemaVersion: 1, sites }, null, 2) + '\n';
}
