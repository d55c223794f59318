// The search palette's state: the query, its hits and the one the arrow keys point at. An answer
// to an older query (typed over meanwhile) is dropped. No DOM: the palette renders it.
import { IpcError, search, type SearchHit } from '../ipc';

export class Search {
  query = $state('');
  hits = $state<SearchHit[]>([]);
  /** The hit Enter picks. */
  active = $state(0);
  problem = $state<string | null>(null);
  #seq = 0;

  /** Searches for the query as it is now (an empty query has no hits). */
  async run(): Promise<void> {
    const mine = ++this.#seq;
    this.problem = null;
    try {
      const found = this.query.trim() ? await search(this.query) : [];
      if (mine === this.#seq) {
        this.hits = found;
        this.active = 0;
      }
    } catch (raw) {
      if (mine === this.#seq) this.problem = IpcError.from(raw).message;
    }
  }

  /** Points at the next (1) or the previous (-1) hit, stopping at the ends. */
  move(step: 1 | -1): void {
    this.active = step === 1 ? Math.min(this.hits.length - 1, this.active + 1) : Math.max(0, this.active - 1);
  }

  /** The hit pointed at, if any. */
  get current(): SearchHit | undefined {
    return this.hits[this.active];
  }
}
