import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render, screen } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import CampaignsReceived from './CampaignsReceived.svelte';

afterEach(() => {
  cleanup();
  clearMocks();
});

describe('CampaignsReceived', () => {
  it('lists the campaigns the conversation’s customer received, with what became of each', async () => {
    const asked: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd !== 'campaigns_received') return undefined;
      asked.push(args);
      return [
        { campaign_id: 'c_2', name: 'Booking reminder', template_name: 'booking_reminder', status: 'read', updated_at: Date.UTC(2026, 11, 7) },
        { campaign_id: 'c_1', name: 'Spring restock', template_name: 'restock', status: 'replied', updated_at: Date.UTC(2026, 11, 1) },
      ];
    });
    render(CampaignsReceived, { conversationId: 42 });
    const items = await screen.findAllByTestId('received-campaign');
    expect(items.map((i) => i.textContent)).toEqual([expect.stringMatching(/Booking reminder.*read/s), expect.stringMatching(/Spring restock.*replied/s)]);
    expect(asked).toEqual([{ conversationId: 42 }]);
  });

  it('says so when the relay cannot be asked, rather than "none"', async () => {
    mockIPC((cmd) => {
      if (cmd === 'campaigns_received') throw { code: 'offline', message: 'the relay could not be reached' };
      return undefined;
    });
    render(CampaignsReceived, { conversationId: 42 });
    expect((await screen.findByTestId('received-problem')).textContent).toContain('could not be reached');
    expect(screen.queryByTestId('received-none')).toBeNull();
  });
});
