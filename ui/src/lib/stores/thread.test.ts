import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { conversationView, message, messagesPage } from '../fixtures';
import type { PageKey } from '../ipc';
import { MAX_THREAD, PAGE, Thread } from './thread.svelte';

type Calls = { cmd: string; args: Record<string, unknown> }[];

/** A cache where conversation `id` has `sizes[id]` messages (1 the oldest), answered as Rust pages them. */
function cache(sizes: Record<number, number>): Calls {
  const calls: Calls = [];
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    if (cmd === 'messages') {
      const { conversationId, before, after, limit } = args as { conversationId: number; before: PageKey | null; after: PageKey | null; limit: number };
      return messagesPage(sizes[conversationId] ?? 0, before, after, limit, (id) => message(id, 'inbound', `message ${id}`));
    }
    if (cmd === 'open_conversation') return conversationView(null, { details: { id: args.conversationId as number } });
    return null;
  });
  return calls;
}

const ids = (thread: Thread) => thread.messages.map((m) => m.id);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

afterEach(() => clearMocks());

describe('the selected conversation', () => {
  it('opens at the newest page, oldest first, and tells Rust which one is viewed', async () => {
    const calls = cache({ 7: 1000 });
    const thread = new Thread();
    await thread.select(7);
    expect(thread.selectedId).toBe(7);
    expect(ids(thread)).toEqual(range(951, 1000));
    expect(thread.hasOlder).toBe(true);
    expect(thread.hasNewer).toBe(false);
    expect(thread.view?.details.id).toBe(7);
    expect(calls.find((c) => c.cmd === 'set_viewing')?.args).toEqual({ conversationId: 7 });
  });

  it('pages back and forth, never holding more than MAX_THREAD messages', async () => {
    cache({ 7: 1000 });
    const thread = new Thread();
    await thread.select(7);
    for (let i = 0; i < 8; i++) await thread.older();
    expect(thread.messages).toHaveLength(MAX_THREAD);
    // The newest pages went: 9 pages back, the window is the 6 pages read most recently.
    expect(ids(thread)).toEqual(range(551, 850));
    expect(thread.hasNewer).toBe(true);
    expect(thread.hasOlder).toBe(true);

    await thread.newer();
    expect(ids(thread)).toEqual(range(601, 900));
    await thread.newer();
    await thread.newer();
    expect(ids(thread)).toEqual(range(701, 1000));
    // A full page may have been the last: the next ask finds nothing newer.
    await thread.newer();
    expect(ids(thread)).toEqual(range(701, 1000));
    expect(thread.hasNewer).toBe(false);
  });

  it('stops paging back at the first message', async () => {
    cache({ 7: 70 });
    const thread = new Thread();
    await thread.select(7);
    expect(thread.hasOlder).toBe(true);
    await thread.older();
    expect(ids(thread)).toEqual(range(1, 70));
    expect(thread.hasOlder).toBe(false);
    expect(thread.hasNewer).toBe(false);
  });

  it('opens at a search hit deep in history, highlighted', async () => {
    cache({ 7: 1000 });
    const thread = new Thread();
    await thread.select(7, 640);
    expect(thread.highlightId).toBe(640);
    expect(ids(thread)).toContain(640);
    expect(thread.messages.length).toBeLessThanOrEqual(MAX_THREAD);
  });

  it('refreshes the window being read when paged back, and jumps to the newest after a reply', async () => {
    cache({ 7: 1000 });
    const thread = new Thread();
    await thread.select(7, 640);
    const window = ids(thread);
    await thread.refresh();
    expect(ids(thread)).toEqual(window);

    thread.toNewest();
    expect(thread.highlightId).toBeNull();
    await thread.refresh();
    expect(ids(thread)).toEqual(range(1000 - PAGE + 1, 1000));
    expect(thread.hasNewer).toBe(false);
  });

  it('keeps older pages when the newest page is refreshed', async () => {
    const sizes = { 7: 1000 };
    cache(sizes);
    const thread = new Thread();
    await thread.select(7);
    await thread.older();
    sizes[7] = 1002; // two new messages arrived
    await thread.refresh();
    expect(ids(thread)).toEqual(range(901, 1002));
  });

  it('starts empty on another conversation, and shows none after clear', async () => {
    cache({ 7: 1000, 9: 3 });
    const thread = new Thread();
    await thread.select(7);
    await thread.older();
    await thread.select(9);
    expect(ids(thread)).toEqual([1, 2, 3]);
    expect(thread.hasOlder).toBe(false);
    thread.clear();
    expect(thread.selectedId).toBeNull();
    expect(thread.view).toBeNull();
    expect(thread.messages).toEqual([]);
  });
});
