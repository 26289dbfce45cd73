/**
 * The four text tasks and the JSON each answer must have, with a tolerant reader: code fences,
 * prose around the object, trailing commas and smart quotes are repaired; a list given as a single
 * string is split; unknown keys are dropped. What cannot be repaired is reported with a reason
 * that is sent back to the model when re-asking.
 */
export const TASKS = ['item_profile', 'item_intent', 'user_intent', 'user_profile'] as const;
export type TaskName = (typeof TASKS)[number];

export type FieldType = 'string' | 'string[]';
export const SCHEMAS: Record<TaskName, Record<string, FieldType>> = {
  item_profile: { summarization: 'string', reasoning: 'string' },
  user_profile: { summarization: 'string', reasoning: 'string' },
  item_intent: { key_attributes: 'string[]', attracts: 'string[]', does_not_suit: 'string[]', intent: 'string' },
  user_intent: { key_attributes: 'string[]', liked: 'string[]', disliked: 'string[]', intent: 'string' },
};

/** Which entity a task is about, and its stage (user_profile needs the item profiles). */
export const TASK_INFO: Record<TaskName, { kind: 'user' | 'item'; stage: 1 | 2; field: 'profile' | 'intent' }> = {
  item_profile: { kind: 'item', stage: 1, field: 'profile' },
  item_intent: { kind: 'item', stage: 1, field: 'intent' },
  user_intent: { kind: 'user', stage: 1, field: 'intent' },
  user_profile: { kind: 'user', stage: 2, field: 'profile' },
};

export type Answer = Record<string, string | string[]>;

/** An answer field as one string (a list joined by "; "), '' when absent. */
export const answerText = (v: unknown): string => (Array.isArray(v) ? v.join('; ') : typeof v === 'string' ? v : '');
/** An answer field as a list (a lone string is a one-element list), [] when absent. */
export const answerList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' && v ? [v] : []);

export function schemaHint(task: TaskName): string {
  const fields = Object.entries(SCHEMAS[task]).map(([k, t]) => `"${k}": ${t === 'string' ? '"..."' : '["...", "..."]'}`);
  return `{${fields.join(', ')}}`;
}

/** Finds the first balanced {...} in s (string-aware). */
function firstObject(s: string): string | null {
  const start = s.indexOf('{');
  if (start < 0) return null;
  let depth = 0;
  let inStr = false;
  for (let i = start; i < s.length; i++) {
    const c = s[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
    } else if (c === '"') inStr = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return s.slice(start, i + 1);
  }
  return null;
}

/** Parses a model's reply into an object, repairing common damage. */
export function parseLooseJson(content: string): { value: unknown; repaired: boolean } | { error: string } {
  try {
    return { value: JSON.parse(content), repaired: false };
  } catch {
    // fall through to repairs
  }
  let s = content.trim().replace(/^```[a-zA-Z]*\s*\n?/, '').replace(/\n?```\s*$/, '');
  const obj = firstObject(s);
  if (obj) s = obj;
  const attempts = [s, s.replace(/,\s*([}\]])/g, '$1'), s.replace(/[\u201c\u201d]/g, '"').replace(/,\s*([}\]])/g, '$1')];
  for (const a of attempts) {
    try {
      return { value: JSON.parse(a), repaired: true };
    } catch {
      // next repair
    }
  }
  if (!obj) return { error: content.trim() === '' ? 'the reply was empty' : 'the reply contains no JSON object' };
  try {
    JSON.parse(s);
  } catch (e) {
    return { error: `the JSON object is malformed (${(e as Error).message})` };
  }
  return { error: 'the JSON object is malformed' };
}

/** Checks (and lightly coerces) an object against the task's schema. */
export function validateAnswer(task: TaskName, v: unknown): { answer: Answer; coerced: boolean } | { error: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'the reply is not a JSON object' };
  const o = v as Record<string, unknown>;
  const out: Answer = {};
  let coerced = false;
  for (const [k, t] of Object.entries(SCHEMAS[task])) {
    const x = o[k];
    if (x === undefined || x === null) return { error: `the key "${k}" is missing` };
    if (t === 'string') {
      if (typeof x === 'string') out[k] = x.trim();
      else if (Array.isArray(x) && x.every((e) => typeof e === 'string')) {
        out[k] = x.join('; ');
        coerced = true;
      } else return { error: `"${k}" must be a string` };
      if (out[k] === '' && k !== 'reasoning') return { error: `"${k}" is empty` };
    } else {
      if (Array.isArray(x) && x.every((e) => typeof e === 'string' || typeof e === 'number')) {
        out[k] = x.map((e) => String(e).trim()).filter((e) => e.length > 0);
      } else if (typeof x === 'string') {
        out[k] = x.split(/\s*[;,\n]\s*/).map((e) => e.trim()).filter((e) => e.length > 0);
        coerced = true;
      } else return { error: `"${k}" must be a list of strings` };
    }
  }
  return { answer: out, coerced };
}

export function readAnswer(task: TaskName, content: string): { answer: Answer; repaired: boolean } | { error: string } {
  const p = parseLooseJson(content);
  if ('error' in p) return p;
  const v = validateAnswer(task, p.value);
  if ('error' in v) return v;
  return { answer: v.answer, repaired: p.repaired || v.coerced };
}
