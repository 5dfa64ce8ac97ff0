/**
 * `doctor`: run the checks, print one screen (or one JSON document), exit 0 when nothing
 * failed and 1 when something did. Also the diagnosis a sync leaves beside its state when
 * its status changed. Thin: checks live in checks/, the runner and renderer beside this.
 */
import type { Site } from '../site/config.js';
import { listInstalledSiteNames, resolveSite } from '../site/store.js';
import { writeFileAtomic } from '../os/fs.js';
import { formatUrl } from '../os/http.js';
import { formatLocalTime } from '../site/last-sync.js';
import { isColorEnabled } from '../ui/progress.js';
import { CHECKS } from './checks/index.js';
import { DoctorContext, type DoctorOptions } from './context.js';
import { runChecks } from './run-checks.js';
import { plainStyle, renderJson, renderJsonAll, renderSummary, renderText, type Style } from './render.js';
import { getExitCode, getVerdict, type Report } from './types.js';

export async function diagnose(site: Site, options: DoctorOptions): Promise<Report> {
  const ctx = new DoctorContext(site, options);
  const checks = await runChecks(CHECKS, ctx);
  const url = formatUrl(site.config.host, site.config.port, '/');
  return {
    site: site.name,
    heading: `site "${site.name}" · ${url} · ${site.config.service} backend`,
    url,
    servedSha: ctx.mirrorPresent() ? ((await ctx.mirrorHead()).head ?? null) : null,
    verdict: getVerdict(checks),
    checks,
  };
}

async function getStyle(): Promise<Style> {
  if (!isColorEnabled(process.stdout)) return plainStyle;
  // kleur decides on its own from the environment; ours (NO_COLOR, FORCE_COLOR, TTY) rules.
  const { default: kleur } = await import('kleur');
  kleur.enabled = true;
  return { ok: kleur.green, warn: kleur.yellow, fail: kleur.red, skip: kleur.gray, bold: kleur.bold };
}

/** What install prints at its end: the doctor verdict without the network check. */
export async function getInstallVerdict(site: Site): Promise<{ text: string; exitCode: number }> {
  const report = await diagnose(site, { network: false });
  return {
    text: renderSummary(report, { style: await getStyle(), verbose: false }),
    exitCode: getExitCode(report.verdict),
  };
}

export async function doctorCommand(argv: {
  name?: string;
  json?: boolean;
  network?: boolean;
  verbose?: boolean;
}): Promise<number> {
  // Without --name and with several sites, every site (DESIGN §6).
  const names = argv.name === undefined ? listInstalledSiteNames() : [];
  const sites = names.length > 1 ? names.map((n) => resolveSite(n)) : [resolveSite(argv.name)];
  const reports: Report[] = [];
  for (const site of sites) reports.push(await diagnose(site, { network: argv.network !== false }));
  if (argv.json) {
    process.stdout.write(reports.length === 1 ? renderJson(reports[0]) : renderJsonAll(reports));
  } else {
    const style = await getStyle();
    process.stdout.write(reports.map((r) => renderText(r, { style, verbose: argv.verbose === true })).join('\n'));
  }
  return Math.max(...reports.map((r) => getExitCode(r.verdict)));
}

/**
 * last-diagnosis.txt: doctor's text report without the network check and without colour,
 * written atomically. Sync calls it when its status differs from the previous one, after
 * it wrote last-sync.env, so the report sees the new record. Rejects only when the file
 * cannot be written.
 */
export async function writeDiagnosis(site: Site): Promise<void> {
  const report = await diagnose(site, { network: false });
  const note = `Written by the sync at ${formatLocalTime()} because its status changed; the network check is off here. Run localhost-ops doctor --name ${site.name} for a live report.`;
  writeFileAtomic(site.paths.diagnosis, renderText(report, { style: plainStyle, verbose: false, note }), 0o644);
}
