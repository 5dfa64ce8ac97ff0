/**
 * A package.json's engines. Its own module, free of semver, because the no-op sync reads
 * engines on every run and must not pay for loading the Node search.
 */
export interface Engines {
  node?: string;
  npm?: string;
}

export function getEngines(packageJsonText: string | null): Engines {
  if (!packageJsonText) return {};
  try {
    const engines = (JSON.parse(packageJsonText) as { engines?: unknown })?.engines;
    if (!engines || typeof engines !== 'object') return {};
    const out: Engines = {};
    for (const key of ['node', 'npm'] as const) {
      const value = (engines as Record<string, unknown>)[key];
      if (typeof value === 'string' && value.trim()) out[key] = value.trim();
    }
    return out;
  } catch {
    return {};
  }
}

export function hasEngines(e: Engines): boolean {
  return Boolean(e.node || e.npm);
}
