/** Atomic file writes: write a temporary file in the same directory, fsync, then rename. */
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, renameSync, rmdirSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

const FS_REASONS: Record<string, string> = {
  EROFS: 'is on a read-only file system',
  EACCES: 'is not writable (permission denied)',
  EPERM: 'is not writable (operation not permitted)',
  ENOSPC: 'has no space left',
  EDQUOT: 'is over the disk quota',
  ENOTDIR: 'is not a directory',
  EEXIST: 'already exists',
  EISDIR: 'is a directory',
  ENAMETOOLONG: 'has too long a name',
  ELOOP: 'has too many levels of symbolic links',
};

/** A short reason for a file-system error ("is on a read-only file system"), or null if it is not one. */
export function fsReason(e: unknown): string | null {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code && FS_REASONS[code] ? FS_REASONS[code]! : null;
}

/**
 * Why an output cannot be written at `path`, or null when it can, checked before any work so that
 * a command fails at once (not after reading all its input): a parent that is a regular file, a
 * directory that is read-only or not writable. `kind` 'file': `path` is a file written with
 * writeFileAtomic (a temporary sibling, then a rename); 'dir': a directory created or replaced
 * through a temporary sibling (`inside: true`: files are written into it when it exists). The only
 * trace left is a probe directory, created and removed at once in the directory that would be written.
 */
export function outputProblem(path: string, kind: 'file' | 'dir', o: { inside?: boolean } = {}): string | null {
  const abs = resolve(path);
  let st: Stats | undefined;
  try {
    st = statSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return `${abs} cannot be read (${(e as Error).message})`;
  }
  if (st) {
    if (kind === 'dir' && !st.isDirectory()) return `${abs} exists and is not a directory`;
    if (kind === 'file' && st.isDirectory()) return `${abs} is a directory`;
    if (kind === 'file' && !st.isFile()) return `${abs} exists and is not a regular file`;
  }
  // the directory that will be written: the target itself (existing, written inside) or the
  // nearest existing ancestor of where the temporary sibling goes
  let anchor = st && kind === 'dir' && o.inside ? abs : dirname(abs);
  for (;;) {
    let a: Stats;
    try {
      a = statSync(anchor);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(anchor) !== anchor) {
        anchor = dirname(anchor);
        continue;
      }
      return `${anchor} cannot be read (${fsReason(e) ?? (e as Error).message})`;
    }
    if (!a.isDirectory()) return `${anchor} is not a directory`;
    break;
  }
  try {
    rmdirSync(mkdtempSync(join(anchor, '.irllrec-write-test-')));
  } catch (e) {
    return `${anchor} ${fsReason(e) ?? `cannot be written (${(e as Error).message})`}`;
  }
  return null;
}
