/**
 * Runs `fn` over `items` with at most `concurrency` calls in flight; results keep input order.
 * After a failure no new call starts, the calls in flight finish, and the first error is thrown.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const index = next;
      next += 1;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker);
  await Promise.all(workers);
  if (failure !== undefined) throw failure.error;
  return results;
}

/** A counting semaphore: `run` waits while `size` calls are in flight. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<R>(fn: () => Promise<R>): Promise<R> {
    if (this.active >= this.size) {
      // The finishing call hands its slot over, so `active` stays counted.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await fn();
    } finally {
      const handOver = this.waiting.shift();
      if (handOver !== undefined) handOver();
      else this.active -= 1;
    }
  }
}
