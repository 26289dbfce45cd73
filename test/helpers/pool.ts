/**
 * Runs async jobs `width` at a time and returns their results in job order (test machines have few
 * cores: keeps the wall time down without oversubscribing).
 */
export async function pool<T>(jobs: (() => Promise<T>)[], width = 3): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  }));
  return out;
}
