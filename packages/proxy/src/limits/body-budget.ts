/**
 * The host-wide budget for request bodies the proxy holds in memory (the Bedrock route reads a
 * whole body before signing it). Every listener draws on one budget, so no number of workspaces
 * uploading at once can buffer more than `capacityBytes`; a request that cannot reserve its
 * next chunk answers 503 with `Retry-After`.
 */
export class BodyBudget {
  private used = 0;

  constructor(readonly capacityBytes: number) {}

  /** Reserves `bytes`; false (nothing reserved) when that would pass the capacity. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.capacityBytes) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  /** Bytes held now. */
  get inUse(): number {
    return this.used;
  }
}
