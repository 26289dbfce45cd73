/** A one-line progress bar on a terminal (stderr); silent when stderr is not a TTY. */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY) && process.env.IRLLREC_NO_PROGRESS !== '1';
  private readonly start = performance.now();
  private last = 0;

  constructor(private readonly label: string, private readonly total: number) {}

  tick(done: number, extra = ''): void {
    if (!this.tty) return;
    const now = performance.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const frac = this.total > 0 ? done / this.total : 1;
    const width = 24;
    const fill = Math.round(frac * width);
    const el = (now - this.start) / 1000;
    const eta = frac > 0 ? el / frac - el : 0;
    process.stderr.write(`\r${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total} ${el.toFixed(1)}s eta ${eta.toFixed(1)}s ${extra}\x1b[K`);
  }

  done(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }
}
