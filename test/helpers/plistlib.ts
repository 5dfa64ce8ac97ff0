/** Python's plistlib as a second opinion on what the plist package reads (runs python3). */
import { run } from './proc.js';
import type { Dict } from './launchd.js';

export async function readWithPython(path: string): Promise<Dict> {
  const script =
    'import json, plistlib, sys\nwith open(sys.argv[1], "rb") as f:\n    print(json.dumps(plistlib.load(f)))';
  return JSON.parse((await run('python3', ['-c', script, path], { timeoutMs: 30_000 })).stdout) as Dict;
}
