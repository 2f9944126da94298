/**
 * A bulk importer's loop: `total` appends with at most `window` outstanding, refilled once half
 * of them are answered, so the next batches are sequenced while earlier ones commit. Rejects on
 * the first failed append.
 */
export function appendWindowed(total: number, window: number, append: (i: number) => Promise<unknown>, progress?: (done: number) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (total === 0) return resolve();
    let next = 0;
    let done = 0;
    const pump = (): void => {
      while (next < total && next - done < window) {
        const i = next++;
        append(i).then(() => {
          done++;
          progress?.(done);
          if (done === total) resolve();
          else if (next - done <= window / 2) pump();
        }, reject);
      }
    };
    pump();
  });
}
