/**
 * The command line. yargs wiring only; each command's module is imported when it runs.
 * The two commands the jobs run all day (`sync`, `run`) take a fast path through
 * node:util's parseArgs with the same option table: yargs alone costs ~60 ms per start.
 */
import { parseArgs } from 'node:util';
import { CliError, UserError, describeError, oneLine } from './errors.js';

type OptionType = 'string' | 'boolean';
interface OptionDef {
  type: OptionType;
  describe: string;
  alias?: string;
  default?: string | boolean;
  hidden?: boolean;
}

const NAME: OptionDef = { type: 'string', describe: 'site name (may be left out when exactly one site is installed)' };

const OPTIONS: Record<string, Record<string, OptionDef>> = {
  install: {
    repo: { type: 'string', describe: 'your clone of the site (the canonical repo)' },
    name: { type: 'string', describe: "site name (default: the repo folder's name)" },
    port: { type: 'string', describe: 'port to serve on (default 4321)' },
    host: { type: 'string', describe: 'address to bind (default 127.0.0.1; loopback only unless --allow-remote)' },
    remote: { type: 'string', describe: 'remote to follow (default origin)' },
    branch: { type: 'string', describe: 'branch to follow (default main)' },
    interval: { type: 'string', describe: 'seconds between syncs, at least 10 (default 60)' },
    command: {
      type: 'string',
      describe:
        "dev server command: auto (default: the dev script with its framework's host and port flags), or one line with {host} and {port}",
    },
    node: {
      type: 'string',
      describe: 'exact Node binary to use (default: the highest installed Node that fits engines.node)',
    },
    service: { type: 'string', describe: 'auto | launchd | systemd | process (default auto)' },
    'health-path': { type: 'string', describe: 'path the health gate requests (default /)' },
    'health-timeout': { type: 'string', describe: 'seconds the server gets to answer after a restart (default 60)' },
    restart: { type: 'string', describe: 'when to restart the server after an update: always (default)' },
    'allow-remote': { type: 'boolean', describe: 'allow a --host that is not loopback' },
    notify: {
      type: 'boolean',
      describe: 'a desktop notification when main is held back and when it recovers (--no-notify turns them off)',
    },
    'metrics-dir': {
      type: 'string',
      describe: 'write localhost_ops_<name>.prom there after each sync (default $LOCALHOST_OPS_METRICS_DIR; none: off)',
    },
  },
  sync: {
    name: NAME,
    force: { type: 'boolean', describe: 'retry a main that failed before' },
    json: { type: 'boolean', describe: 'print the result as one JSON object' },
    watch: { type: 'boolean', describe: 'run as the sync agent: sync now, every interval, and when main moves' },
  },
  run: { name: NAME },
  doctor: {
    name: NAME,
    json: { type: 'boolean', describe: 'print the report as one JSON document' },
    network: { type: 'boolean', describe: 'check the remote (--no-network skips it)', default: true },
    verbose: { type: 'boolean', alias: 'v', describe: "show each check's evidence" },
  },
  status: {
    json: { type: 'boolean', describe: 'print every site as one JSON document' },
  },
  logs: {
    name: NAME,
    sync: { type: 'boolean', describe: "only the sync's log" },
    server: { type: 'boolean', describe: "only the server's log" },
    lines: { type: 'string', alias: 'n', describe: 'how many lines (default 50)' },
    follow: { type: 'boolean', alias: 'f', describe: 'keep printing new lines, across rotation' },
  },
  restart: { name: NAME },
  pause: { name: NAME },
  resume: { name: NAME },
  open: { name: NAME },
  demo: {
    merge: { type: 'string', describe: 'merge a pull request that shows TEXT; the page shows it within seconds' },
    break: { type: 'boolean', describe: 'merge a main whose server crashes at start; the page keeps serving' },
    remove: { type: 'boolean', describe: 'remove the demo site, its jobs and everything demo made' },
    port: { type: 'string', describe: 'port to try first (default 4321)', hidden: true },
  },
  uninstall: {
    name: NAME,
    purge: { type: 'boolean', describe: "also remove the mirror, its branch and the site's folder" },
  },
};

type Argv = Record<string, unknown>;

const HANDLERS: Record<string, (argv: Argv) => Promise<number>> = {
  install: async (a) => (await import('./install/index.js')).installCommand(toInstallFlags(a), SYNC_HOOKS),
  sync: async (a) =>
    (await import('./sync/index.js')).syncCommand(
      a as { name?: string; force?: boolean; json?: boolean; watch?: boolean },
      SYNC_HOOKS,
    ),
  run: async (a) => (await import('./run/index.js')).runCommand(a as { name?: string }),
  doctor: async (a) =>
    (await import('./doctor/index.js')).doctorCommand(
      a as { name?: string; json?: boolean; network?: boolean; verbose?: boolean },
    ),
  status: async (a) => (await import('./manage/status.js')).statusCommand(a as { json?: boolean }),
  logs: async (a) =>
    (await import('./manage/logs.js')).logsCommand(
      a as { name?: string; sync?: boolean; server?: boolean; lines?: string; follow?: boolean },
    ),
  restart: async (a) => (await import('./manage/restart.js')).restartCommand(a as { name?: string }),
  pause: async (a) => (await import('./manage/pause.js')).pauseCommand(a as { name?: string }),
  resume: async (a) => (await import('./manage/pause.js')).resumeCommand(a as { name?: string }),
  open: async (a) => (await import('./manage/open.js')).openCommand(a as { name?: string }),
  demo: async (a) =>
    (await import('./demo/index.js')).demoCommand(
      a as { merge?: string; break?: boolean; remove?: boolean; port?: string },
    ),
  uninstall: async (a) =>
    (await import('./manage/uninstall.js')).uninstallCommand(a as { name?: string; purge?: boolean }),
};

type Site = import('./site/config.js').Site;
type SyncRecord = import('./site/last-sync.js').SyncRecord;

/**
 * The sync's status-change hook: doctor's diagnosis, then a desktop notification, each
 * loaded only when a status changes. Wired here, above both, so sync/ never imports
 * doctor/ or manage/ (DESIGN §7). Both run even when the first fails.
 */
export const writeDiagnosisOnChange = async (site: Site, rec: SyncRecord, prev: SyncRecord | null): Promise<void> => {
  const results = await Promise.allSettled([
    (async () => (await import('./doctor/index.js')).writeDiagnosis(site))(),
    (async () => (await import('./manage/notify.js')).notifyOnChange(site, rec, prev))(),
  ]);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
};

/** After every sync: the metrics file, when a metrics folder is set (DESIGN §11). */
export const writeMetricsAfterSync = async (site: Site, rec: SyncRecord): Promise<void> => {
  if (!site.config.metricsDir && !process.env.LOCALHOST_OPS_METRICS_DIR) return;
  await (await import('./manage/metrics.js')).writeMetrics(site, rec);
};

const SYNC_HOOKS = { onStatusChange: writeDiagnosisOnChange, afterSync: writeMetricsAfterSync };

function toInstallFlags(a: Argv) {
  return {
    repo: a.repo as string | undefined,
    name: a.name as string | undefined,
    port: a.port,
    host: a.host as string | undefined,
    remote: a.remote as string | undefined,
    branch: a.branch as string | undefined,
    interval: a.interval,
    command: a.command as string | undefined,
    node: a.node as string | undefined,
    service: a.service as string | undefined,
    healthPath: a['health-path'] as string | undefined,
    healthTimeout: a['health-timeout'],
    restart: a.restart as string | undefined,
    allowRemote: a['allow-remote'] as boolean | undefined,
    notify: a.notify as boolean | undefined,
    metricsDir: a['metrics-dir'] as string | undefined,
  };
}

/** The jobs' fast path: `sync`/`run` with plain flags. Anything unusual goes to yargs. */
function parseFast(args: string[]): { command: string; argv: Argv } | null {
  const command = args[0];
  if (command !== 'sync' && command !== 'run') return null;
  const options: Record<string, { type: OptionType }> = {};
  for (const [key, def] of Object.entries(OPTIONS[command])) options[key] = { type: def.type };
  try {
    const { values, positionals } = parseArgs({ args: args.slice(1), options, strict: true, allowPositionals: true });
    return positionals.length ? null : { command, argv: values };
  } catch {
    return null;
  }
}

async function parseWithYargs(args: string[]): Promise<{ command: string; argv: Argv } | null> {
  const { default: yargs } = await import('yargs');
  let chosen: { command: string; argv: Argv } | null = null;
  const y = yargs(args)
    .scriptName('localhost-ops')
    .usage("$0 <command> [options]\n\nKeeps a local, always-running mirror of your site's main branch on 127.0.0.1.")
    .strict()
    .demandCommand(1, 'Name a command.')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .showHelpOnFail(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      const sentence = oneLine(msg).replace(/([^.?!])$/, '$1.');
      throw new UserError(
        sentence,
        `Run localhost-ops ${args[0] && OPTIONS[args[0]] ? `${args[0]} ` : ''}--help to see the options.`,
      );
    });
  const describe: Record<string, string> = {
    install: 'set up the mirror and its two jobs (once)',
    sync: 'realign the mirror with main now',
    run: 'run the dev server from the mirror (what the server job executes)',
    doctor: 'say what is wrong and the command that fixes it',
    status: 'one line per installed site: what it serves, its last sync, its jobs',
    logs: "the site's last log lines (-f: keep following)",
    restart: 'restart the dev server through a swap, with no failed request',
    pause: 'stop following main; the live slot keeps serving',
    resume: 'follow main again, syncing at once',
    open: "open the site's URL in the browser",
    demo: 'see it work on a sample site: demo, then demo --merge "Hello", demo --break, demo --remove',
    uninstall: 'stop and remove the jobs (--purge: also the mirror)',
  };
  for (const [command, options] of Object.entries(OPTIONS)) {
    y.command(
      command,
      describe[command],
      (cmd) => {
        for (const [key, def] of Object.entries(options)) {
          cmd.option(key, {
            type: def.type,
            describe: def.describe,
            alias: def.alias,
            default: def.default,
            hidden: def.hidden,
          });
        }
        return cmd;
      },
      (argv) => {
        chosen = { command, argv: argv as Argv };
      },
    );
  }
  y.example('$0 install --repo ~/dev/site', "mirror ~/dev/site's main at http://127.0.0.1:4321")
    .example('$0 doctor', 'what is wrong, and the command that fixes it')
    .example('$0 sync', 'realign with main now')
    .example('$0 sync --json', 'the same, as one JSON object')
    .example('$0 status', 'every site: what it serves and how its last sync went')
    .example('$0 logs -f --name site', "follow a site's sync and server logs")
    .example('$0 uninstall --purge', 'remove the jobs and the mirror');
  await y.parseAsync();
  return chosen;
}

async function main(args: string[]): Promise<number> {
  const parsed = parseFast(args) ?? (await parseWithYargs(args));
  if (!parsed) return 0; // --help or --version printed
  try {
    return await HANDLERS[parsed.command](parsed.argv);
  } finally {
    // Keep-alive sockets to a server agent would hold a finished command open.
    await (await import('./os/http.js')).closeUnixClients();
  }
}

const ARGS = process.argv.slice(2);

/**
 * A closed stdout (`| head -1`) ends the command quietly: no EPIPE stack trace, and nothing
 * more is written. The exit code is what the command had decided so far. The two resident
 * agents (`run`, `sync --watch`) keep running instead: a stop there would orphan their
 * children mid-step.
 */
function endQuietlyOnClosedPipe(stream: NodeJS.WriteStream, resident: boolean): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    if (!resident) process.exit(process.exitCode ?? 0);
  });
}
const RESIDENT = ARGS[0] === 'run' || (ARGS[0] === 'sync' && ARGS.includes('--watch'));
endQuietlyOnClosedPipe(process.stdout, RESIDENT);
endQuietlyOnClosedPipe(process.stderr, RESIDENT);

main(ARGS).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`localhost-ops: ${err.message}${err.fix ? ` ${err.fix}` : ''}\n`);
      // --json promises one document on stdout, a refusal included (DESIGN §1).
      if (ARGS.includes('--json')) process.stdout.write(JSON.stringify({ error: err.message, fix: err.fix }) + '\n');
      process.exitCode = err.exitCode;
      return;
    }
    // An internal error: still one line by default; the stack only when asked for.
    process.stderr.write(`localhost-ops: internal error: ${describeError(err)}\n`);
    if (process.env.LOCALHOST_OPS_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exitCode = 1;
  },
);
