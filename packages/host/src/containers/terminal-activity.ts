/**
 * Which of this host's slots have an open terminal, and which hold changes not yet synced out
 * (a terminal's, or a run's whose sync out failed). A sync in keeps those changes instead of undoing them (`keepLocalChanges`), and a
 * sync out that began with no terminal open marks the slot clean again.
 */
export class TerminalActivity {
  private readonly open = new Map<string, number>();
  private readonly unsyncedSlots = new Set<string>();

  /** A terminal opened in the slot. */
  opened(slotId: string): void {
    this.open.set(slotId, this.openIn(slotId) + 1);
    this.unsyncedSlots.add(slotId);
  }

  /** A terminal of the slot closed; its changes stay unsynced until a sync out. */
  closed(slotId: string): void {
    const left = this.openIn(slotId) - 1;
    if (left > 0) this.open.set(slotId, left);
    else this.open.delete(slotId);
  }

  /** Terminals open in the slot now. */
  openIn(slotId: string): number {
    return this.open.get(slotId) ?? 0;
  }

  /** Terminals open on this host. */
  get total(): number {
    let n = 0;
    for (const count of this.open.values()) n += count;
    return n;
  }

  /** Whether a terminal is open in the slot, or wrote there since its last sync out. */
  unsynced(slotId: string): boolean {
    return this.unsyncedSlots.has(slotId);
  }

  /**
   * A sync out of the slot begins; call the answer when it succeeded. The slot is clean only when
   * no terminal was open while it ran.
   */
  syncOutStarted(slotId: string): () => void {
    const quiet = this.openIn(slotId) === 0;
    return () => {
      if (quiet && this.openIn(slotId) === 0) this.unsyncedSlots.delete(slotId);
    };
  }

  /**
   * A sync out of the slot failed (its store was away past the retry deadline): the slot holds
   * the only copy of its changes, which the next sync in keeps until a sync out succeeds.
   */
  syncOutFailed(slotId: string): void {
    this.unsyncedSlots.add(slotId);
  }

  /** The slot is gone. */
  forget(slotId: string): void {
    this.unsyncedSlots.delete(slotId);
  }
}
