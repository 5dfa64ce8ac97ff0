/** The checks, in the order the report shows them (DESIGN §6). */
import type { Check } from '../types.js';
import { aligned, canonical, slots, worktreeClean } from './repo.js';
import { dependencies, node } from './runtime.js';
import { framework, http, serverPort, serverProcess, service } from './server.js';
import { lastSync, paths } from './state.js';
import { logs } from './logs.js';

export const CHECKS: Check[] = [
  node,
  canonical,
  slots,
  worktreeClean,
  aligned,
  dependencies,
  service,
  serverPort,
  serverProcess,
  framework,
  http,
  lastSync,
  paths,
  logs,
];
