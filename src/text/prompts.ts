/**
 * Prompt templates: `prompts/<task>.md` at the package root (or a user directory, --prompts),
 * each with a `---system---` and a `---user---` section and `{{name}}` placeholders.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, readFileForData } from '../data/errors.js';
import { packageRoot } from '../util/package.js';
import { TASKS, type TaskName } from './schema.js';

export const defaultPromptsDir = join(packageRoot, 'prompts');
const PLACEHOLDERS = ['domain', 'input'];

export interface Template {
  task: TaskName;
  file: string;
  system: string;
  user: string;
  /** sha256 of the file's text */
  hash: string;
}

export type Templates = Record<TaskName, Template>;

export function parseTemplate(task: TaskName, file: string, text: string): Template {
  const t = text.replace(/\r\n/g, '\n');
  const m = /^---system---\n([\s\S]*?)\n---user---\n([\s\S]*)$/.exec(t);
  if (!m) throw new DataError(file, 'a prompt template needs a "---system---" line first, then a "---user---" line', { line: 1 });
  for (const [, name] of t.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
    if (!PLACEHOLDERS.includes(name!)) {
      const line = t.slice(0, t.indexOf(`{{${name}`)).split('\n').length;
      throw new DataError(file, `unknown placeholder {{${name}}} (known: ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')})`, { line });
    }
  }
  if (!m[2]!.includes('{{input}}') && !m[1]!.includes('{{input}}')) throw new DataError(file, 'the template never uses {{input}}');
  return { task, file, system: m[1]!.trim(), user: m[2]!.trim(), hash: createHash('sha256').update(text).digest('hex') };
}

export function loadTemplates(dir = defaultPromptsDir): Templates {
  if (!existsSync(dir)) throw new DataError(dir, 'prompt template directory not found');
  const out = {} as Templates;
  for (const task of TASKS) {
    const file = join(dir, `${task}.md`);
    out[task] = parseTemplate(task, file, readFileForData(file).toString('utf8'));
  }
  return out;
}

export function render(s: string, vars: { domain: string; input: string }): string {
  return s.replace(/\{\{\s*(domain|input)\s*\}\}/g, (_, k: 'domain' | 'input') => vars[k]);
}

/** One hash over every template (recorded in manifests). */
export function templatesHash(t: Templates): string {
  const h = createHash('sha256');
  for (const task of TASKS) h.update(`${task}\n${t[task].hash}\n`);
  return h.digest('hex');
}
