// The selected conversation: its view (details, state, notes) and a window of its messages that
// pages both ways and never holds more than MAX_THREAD. No DOM: the pane renders `messages` and
// asks for `older()` and `newer()` at its ends.
import {
  messages as loadMessages,
  messagesAfter,
  openConversation,
  setViewing,
  type ConversationView,
  type MessageView,
} from '../ipc';

/** Messages per page. */
export const PAGE = 50;
/** The most messages kept in the DOM: paging further drops pages from the other end. */
export const MAX_THREAD = 300;

export class Thread {
  selectedId = $state<number | null>(null);
  view = $state<ConversationView | null>(null);
  /** The loaded window, oldest first. */
  messages = $state<MessageView[]>([]);
  hasOlder = $state(false);
  hasNewer = $state(false);
  /** The message a search jumped to. */
  highlightId = $state<number | null>(null);

  /** Opens conversation `id` (at message `highlight`, loading pages back until it is there). */
  async select(id: number, highlight: number | null = null): Promise<void> {
    if (id !== this.selectedId) {
      this.selectedId = id;
      setViewing(id);
      this.messages = [];
      this.hasOlder = false;
      this.hasNewer = false;
      this.view = null;
    }
    this.highlightId = highlight;
    await this.refresh();
    while (highlight !== null && this.hasOlder && !this.messages.some((m) => m.id === highlight)) {
      await this.older();
    }
  }

  /** Reloads what is shown: the window being read when paged back, else the newest page. */
  async refresh(): Promise<void> {
    if (this.selectedId === null) return;
    const id = this.selectedId;
    if (this.hasNewer && this.messages.length > 0) {
      // Paged far back: refresh the window being read (statuses, reactions), not the newest page.
      const last = this.messages[this.messages.length - 1];
      const window = (await loadMessages(id, { time: last.sent_at, id: last.id + 1 }, this.messages.length)).reverse();
      if (id === this.selectedId) this.messages = window;
    } else {
      const newest = (await loadMessages(id, null, PAGE)).reverse();
      if (id !== this.selectedId) return;
      this.#mergeNewest(newest);
    }
    this.view = await openConversation(id);
  }

  /** The newest page, merged with the older pages already loaded. */
  #mergeNewest(newest: MessageView[]) {
    const oldestNew = newest[0];
    const kept = oldestNew
      ? this.messages.filter((m) => m.sent_at < oldestNew.sent_at || (m.sent_at === oldestNew.sent_at && m.id < oldestNew.id))
      : this.messages;
    this.messages = [...kept, ...newest];
    if (this.messages.length === newest.length) this.hasOlder = newest.length === PAGE;
    this.#keepNewest();
  }

  /** The page before the oldest message shown. */
  async older(): Promise<void> {
    if (this.selectedId === null || this.messages.length === 0) return;
    const oldest = this.messages[0];
    const page = (await loadMessages(this.selectedId, { time: oldest.sent_at, id: oldest.id }, PAGE)).reverse();
    this.hasOlder = page.length === PAGE;
    this.messages = [...page, ...this.messages];
    if (this.messages.length > MAX_THREAD) {
      this.messages = this.messages.slice(0, MAX_THREAD);
      this.hasNewer = true;
    }
  }

  /** The page after the newest message shown, when paged back. */
  async newer(): Promise<void> {
    if (this.selectedId === null || this.messages.length === 0 || !this.hasNewer) return;
    const newest = this.messages[this.messages.length - 1];
    const page = await messagesAfter(this.selectedId, { time: newest.sent_at, id: newest.id }, PAGE);
    this.hasNewer = page.length === PAGE;
    this.messages = [...this.messages, ...page];
    this.#keepNewest();
  }

  /** Drops the oldest messages beyond MAX_THREAD. */
  #keepNewest() {
    if (this.messages.length > MAX_THREAD) {
      this.messages = this.messages.slice(this.messages.length - MAX_THREAD);
      this.hasOlder = true;
    }
  }

  /** After something was queued for the customer: the next refresh shows the newest messages. */
  toNewest(): void {
    this.highlightId = null;
    if (this.hasNewer) {
      // The reply lands at the bottom: jump back to the newest messages.
      this.messages = [];
      this.hasNewer = false;
    }
  }

  /** Shows no conversation. */
  clear(): void {
    this.selectedId = null;
    this.view = null;
    this.messages = [];
  }
}
