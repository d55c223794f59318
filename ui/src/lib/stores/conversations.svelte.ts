// The conversation list: which conversations it shows (tab and filters) and the pages loaded so
// far. No DOM: the list component renders `items` and asks for `more()` near the end.
import { conversations, type ConversationFilter, type ConversationSummary } from '../ipc';

/** Which conversations the list shows. */
export type Tab = 'mine' | 'unassigned' | 'all';

/** Conversations per page. */
export const PAGE = 50;

export class ConversationList {
  tab = $state<Tab>('all');
  status = $state('');
  channel = $state('');
  label = $state('');
  /** Only this team's conversations (a team id; '' for any team). */
  team = $state('');
  /** The loaded pages, newest activity first. */
  items = $state<ConversationSummary[]>([]);
  /** Whether the first page has arrived (an empty list is then "no conversations"). */
  loaded = $state(false);
  /** The last page was short: there is nothing more to load. */
  complete = false;
  #loadingMore = false;
  readonly #memberId: () => string | null;

  /** `memberId`: who "Mine" means, read at each load. */
  constructor(memberId: () => string | null) {
    this.#memberId = memberId;
  }

  /** What the tab and the filters ask the cache for. */
  filter(): ConversationFilter {
    const memberId = this.#memberId();
    return {
      status: this.status || null,
      channel_kind: this.channel || null,
      assignee: this.tab === 'all' ? null : this.tab === 'unassigned' ? '' : (memberId ?? '\u0000'),
      label: this.label || null,
      team: this.team || null,
    };
  }

  /** Reloads the loaded part of the list (at least the first page). */
  async refresh(): Promise<void> {
    const limit = Math.max(PAGE, this.items.length);
    const fresh = await conversations(this.filter(), null, limit);
    this.complete = fresh.length < limit;
    this.items = fresh;
    this.loaded = true;
  }

  /** The next page after the last row, unless one is loading or the list is complete. */
  async more(): Promise<void> {
    if (this.#loadingMore || this.complete || this.items.length === 0) return;
    this.#loadingMore = true;
    const lastRow = this.items[this.items.length - 1];
    try {
      const page = await conversations(this.filter(), { time: lastRow.last_activity_at, id: lastRow.id }, PAGE);
      this.complete = page.length < PAGE;
      this.items = [...this.items, ...page];
    } finally {
      this.#loadingMore = false;
    }
  }

  /** Empties the list (shown as loading) until the next `refresh`. */
  clear(): void {
    this.items = [];
    this.loaded = false;
  }

  /** Applies a change of tab or filter and loads the list it asks for from the start. */
  change(apply: (list: ConversationList) => void): Promise<void> {
    apply(this);
    this.clear();
    return this.refresh();
  }

  /** Shows conversation `id` as read. */
  markRead(id: number): void {
    this.items = this.items.map((c) => (c.id === id ? { ...c, unread_count: 0 } : c));
  }

  /** The conversation `step` rows from `id` (1: the next one down), if there is one. */
  neighbour(id: number | null, step: 1 | -1): number | null {
    const index = this.items.findIndex((c) => c.id === id);
    if (step === -1 && index <= 0) return null;
    return this.items[index + step]?.id ?? null;
  }
}
