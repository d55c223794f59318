import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import type { SearchHit } from '../ipc';
import { Search } from './search.svelte';

const hit = (conversation_id: number): SearchHit => ({ conversation_id, message_id: null, snippet: `hit ${conversation_id}`, rank: 1 });

afterEach(() => clearMocks());

describe('search', () => {
  it('finds hits for the query and points at the first; an empty query asks nothing', async () => {
    const queries: string[] = [];
    mockIPC((_cmd, args) => {
      queries.push((args as { query: string }).query);
      return [hit(1), hit(2), hit(3)];
    });
    const search = new Search();
    search.query = '  ';
    await search.run();
    expect(queries).toEqual([]);
    expect(search.hits).toEqual([]);

    search.query = 'invo';
    await search.run();
    expect(queries).toEqual(['invo']);
    expect(search.hits.map((h) => h.conversation_id)).toEqual([1, 2, 3]);
    expect(search.current?.conversation_id).toBe(1);
  });

  it('moves between hits with the arrows, stopping at the ends', async () => {
    mockIPC(() => [hit(1), hit(2)]);
    const search = new Search();
    search.query = 'a';
    await search.run();
    search.move(1);
    search.move(1);
    expect(search.current?.conversation_id).toBe(2);
    search.move(-1);
    search.move(-1);
    expect(search.current?.conversation_id).toBe(1);
  });

  it('drops the answer to a query typed over meanwhile', async () => {
    const answers = new Map<string, (hits: SearchHit[]) => void>();
    mockIPC((_cmd, args) => new Promise((resolve) => answers.set((args as { query: string }).query, resolve)));
    const search = new Search();
    search.query = 'in';
    const first = search.run();
    search.query = 'invo';
    const second = search.run();
    answers.get('invo')!([hit(2)]);
    await second;
    answers.get('in')!([hit(1), hit(9)]);
    await first;
    expect(search.hits.map((h) => h.conversation_id)).toEqual([2]);
  });

  it('says why a search failed', async () => {
    mockIPC(() => {
      throw { code: 'cache_unavailable', message: 'the disk is full' };
    });
    const search = new Search();
    search.query = 'x';
    await search.run();
    expect(search.problem).toBe('the disk is full');
  });
});
