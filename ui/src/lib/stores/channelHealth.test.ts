import { afterEach, describe, expect, it, vi } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { channelInfo } from '../fixtures';
import { CHECK_EVERY_MS, ChannelHealth, channelName } from './channelHealth.svelte';

const channel = (id: string, health: string, allowed = true) =>
  channelInfo(id, {
    display_name: id === 'c1' ? 'Support line' : '',
    allowed,
    health,
    phone_number: id === 'c2' ? '+1 555 0100' : null,
  });

/** The relay's channel list; counts how often it is asked. */
function relay(list: () => unknown[]): { asked: number } {
  const count = { asked: 0 };
  mockIPC((cmd) => {
    if (cmd !== 'channels') return null;
    count.asked += 1;
    return list();
  });
  return count;
}

afterEach(() => clearMocks());

describe('channel health above the inbox', () => {
  it("lists only the member's channels that are disconnected or need attention", async () => {
    relay(() => [channel('c1', 'disconnected'), channel('c2', 'attention'), channel('c3', 'connected'), channel('c4', 'disconnected', false)]);
    const health = new ChannelHealth();
    await health.check(true);
    expect(health.problems.map((c) => c.id)).toEqual(['c1', 'c2']);
    expect(health.problems.map(channelName)).toEqual(['Support line', 'whatsapp +1 555 0100']);
  });

  it('asks at most every 20 s unless forced, and shows none when signed out', async () => {
    let now = 1_000_000;
    vi.spyOn(Date, 'now').mockImplementation(() => now);
    let list = [channel('c1', 'disconnected')];
    const count = relay(() => list);
    const health = new ChannelHealth();
    await health.check(true);
    list = [];
    now += CHECK_EVERY_MS - 1;
    await health.check(true);
    expect(count.asked).toBe(1);
    expect(health.problems).toHaveLength(1);
    await health.check(true, true);
    expect(count.asked).toBe(2);
    expect(health.problems).toHaveLength(0);
    now += CHECK_EVERY_MS;
    await health.check(true);
    expect(count.asked).toBe(3);
    await health.check(false);
    expect(health.problems).toEqual([]);
    expect(count.asked).toBe(3);
  });

  it('keeps what it showed when the relay cannot be asked', async () => {
    let offline = false;
    relay(() => {
      if (offline) throw { code: 'offline', message: 'the relay could not be reached' };
      return [channel('c1', 'attention')];
    });
    const health = new ChannelHealth();
    await health.check(true);
    offline = true;
    await health.check(true, true);
    expect(health.problems.map((c) => c.id)).toEqual(['c1']);
  });
});
