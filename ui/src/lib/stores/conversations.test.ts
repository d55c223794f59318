import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { conversationsPage } from '../fixtures';
import type { ConversationFilter, PageKey } from '../ipc';
import { ConversationList, PAGE } from './conversations.svelte';

type Asked = { filter: ConversationFilter; after: PageKey | null; limit: number };

/** The cache of a workspace with `total` conversations, answering `conversations` as Rust pages it. */
function workspace(total: number, hold?: Promise<void>): Asked[] {
  const asked: Asked[] = [];
  mockIPC(async (cmd, args) => {
    if (cmd !== 'conversations') return null;
    const { filter, after, limit } = args as Asked;
    asked.push({ filter, after, limit });
    await hold;
    return conversationsPage(total, after, limit);
  });
  return asked;
}

afterEach(() => clearMocks());

describe('the conversation list', () => {
  it('loads the first page, then the next after the last row, until a short page', async () => {
    const asked = workspace(120);
    const list = new ConversationList(() => 'm1');
    expect(list.loaded).toBe(false);
    await list.refresh();
    expect(list.loaded).toBe(true);
    expect(list.items.map((c) => c.id)).toEqual(Array.from({ length: PAGE }, (_, i) => i + 1));
    expect(list.complete).toBe(false);

    await list.more();
    const last = list.items[PAGE - 1];
    expect(asked[1].after).toEqual({ time: conversationsPage(120, null, PAGE)[PAGE - 1].last_activity_at, id: 50 });
    expect(last.id).toBe(50);
    expect(list.items).toHaveLength(100);
    await list.more();
    expect(list.items).toHaveLength(120);
    expect(list.complete).toBe(true);
    await list.more();
    expect(asked).toHaveLength(3);
  });

  it('asks for one page at a time however often the end is reached', async () => {
    let release = () => {};
    const asked = workspace(500, new Promise<void>((resolve) => (release = resolve)));
    const list = new ConversationList(() => 'm1');
    const first = list.refresh();
    release();
    await first;
    const more = [list.more(), list.more(), list.more()];
    await Promise.all(more);
    expect(asked.map((a) => a.after?.id ?? null)).toEqual([null, 50]);
    expect(list.items).toHaveLength(100);
  });

  it('reloads what is loaded (at least a page) on refresh', async () => {
    const asked = workspace(500);
    const list = new ConversationList(() => 'm1');
    await list.refresh();
    await list.more();
    await list.more();
    await list.refresh();
    expect(asked.at(-1)).toMatchObject({ after: null, limit: 150 });
    expect(list.items).toHaveLength(150);
  });

  it('asks for the tab and the filters, and starts over when they change', async () => {
    const asked = workspace(120);
    let member: string | null = 'm1';
    const list = new ConversationList(() => member);
    await list.refresh();
    await list.more();
    expect(asked[0].filter).toEqual({ status: null, channel_kind: null, assignee: null, label: null, team: null });

    const changed = list.change((l) => {
      l.tab = 'mine';
      l.status = 'open';
      l.channel = 'whatsapp';
      l.label = 'vip';
      l.team = 'billing';
    });
    expect(list.items).toEqual([]);
    expect(list.loaded).toBe(false);
    await changed;
    expect(asked.at(-1)).toEqual({
      filter: { status: 'open', channel_kind: 'whatsapp', assignee: 'm1', label: 'vip', team: 'billing' },
      after: null,
      limit: PAGE,
    });
    expect(list.items).toHaveLength(PAGE);

    await list.change((l) => (l.tab = 'unassigned'));
    expect(asked.at(-1)?.filter.assignee).toBe('');
    member = null;
    await list.change((l) => (l.tab = 'mine'));
    // Signed out, "Mine" matches nobody rather than everybody.
    expect(asked.at(-1)?.filter.assignee).toBe('\u0000');
  });

  it('marks a conversation read and finds its neighbours', async () => {
    workspace(3);
    const list = new ConversationList(() => 'm1');
    await list.refresh();
    expect(list.items.find((c) => c.id === 3)?.unread_count).toBe(3);
    list.markRead(3);
    expect(list.items.find((c) => c.id === 3)?.unread_count).toBe(0);
    expect(list.neighbour(null, 1)).toBe(1);
    expect(list.neighbour(1, 1)).toBe(2);
    expect(list.neighbour(3, 1)).toBeNull();
    expect(list.neighbour(2, -1)).toBe(1);
    expect(list.neighbour(1, -1)).toBeNull();
    expect(list.neighbour(null, -1)).toBeNull();
  });
});
