/**
 * Keys this process has answered lately, as a hint, never as the truth (PostgreSQL's record is).
 * A request whose key is here is most likely a retry (a replay, or a 409 while the first still
 * runs): the middleware then claims first, instead of opening the mutation's transaction beside
 * the claim, which a retry would only roll back. A fresh key (the common case) is never here.
 * Bounded: the least recently seen keys are forgotten first.
 */
export class RecentKeys {
  private readonly keys = new Set<string>();

  constructor(private readonly max = 10_000) {}

  has(scope: string, key: string): boolean {
    return this.keys.has(`${scope}\n${key}`);
  }

  add(scope: string, key: string): void {
    const id = `${scope}\n${key}`;
    // Re-insert so Set iteration order is the eviction order (least recently seen first).
    this.keys.delete(id);
    this.keys.add(id);
    if (this.keys.size > this.max) this.keys.delete(this.keys.values().next().value!);
  }

  get size(): number {
    return this.keys.size;
  }
}
