/**
 * Fault injection for crash tests: IRLLREC_FAULT=<point>:<n> kills the process with SIGKILL the
 * n-th time execution reaches `crashPoint(<point>)` (no cleanup, like a power cut or `kill -9`).
 */
const hits = new Map<string, number>();

export function crashPoint(name: string): void {
  const spec = process.env.IRLLREC_FAULT;
  if (!spec) return;
  const [point, n] = spec.split(':');
  if (point !== name) return;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (count === Number(n)) process.kill(process.pid, 'SIGKILL');
}
