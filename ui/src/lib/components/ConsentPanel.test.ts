import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import ConsentPanel from './ConsentPanel.svelte';
import type { ChannelConsent } from '../ipc';

afterEach(() => {
  cleanup();
  clearMocks();
});

type Calls = { cmd: string; args: Record<string, unknown> }[];

const AT = Date.UTC(2026, 11, 6, 10, 0);

/** Ana on WhatsApp (opted out by her STOP after an agent's opt-in) and on Instagram (never asked). */
function ana(): ChannelConsent[] {
  return [
    {
      contact_id: 7,
      channel_kind: 'whatsapp',
      channel_external_id: '1065',
      customer_id: 'BR.1',
      opted_in: false,
      history: [
        { opted_in: false, source: 'keyword', at: AT + 60_000, recorded_by: 'automation:consent', note: null },
        { opted_in: true, source: 'agent', at: AT, recorded_by: 'm_ana', note: 'asked by phone' },
      ],
    },
    { contact_id: 9, channel_kind: 'instagram', channel_external_id: 'IG1', customer_id: 'IGSID.1', opted_in: null, history: [] },
  ];
}

function backend(): Calls {
  const calls: Calls = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    switch (cmd) {
      case 'consent':
        return ana();
      case 'record_consent':
        return null;
    }
  });
  return calls;
}

describe('the consent panel', () => {
  it('shows the current consent per channel with its history, newest first', async () => {
    const calls = backend();
    render(ConsentPanel, { conversationId: 3, canAct: true });
    const rows = await screen.findAllByTestId('consent-channel');
    expect(calls[0]).toEqual({ cmd: 'consent', args: { conversationId: 3 } });
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByTestId('consent-state').textContent).toBe('Opted out');
    expect(within(rows[1]).getByTestId('consent-state').textContent).toBe('Not recorded');
    const history = within(rows[0]).getByTestId('consent-history').querySelectorAll('li');
    expect(history).toHaveLength(2);
    expect(history[0].textContent).toContain('Out');
    expect(history[0].textContent).toContain('the customer wrote a stop keyword');
    expect(history[1].textContent).toContain('recorded by m_ana');
    expect(history[1].textContent).toContain('asked by phone');
    expect(within(rows[1]).queryByTestId('consent-history')).toBeNull();
  });

  it("records the customer's opt-in on the channel chosen, with the member's note", async () => {
    const calls = backend();
    render(ConsentPanel, { conversationId: 3, canAct: true });
    const rows = await screen.findAllByTestId('consent-channel');
    await fireEvent.click(within(rows[1]).getByTestId('consent-record-in'));
    const form = within(rows[1]).getByTestId('consent-form');
    await fireEvent.input(within(form).getByLabelText('Note'), { target: { value: '  said yes in the shop ' } });
    await fireEvent.click(within(form).getByTestId('consent-save'));
    await waitFor(() => expect(calls.some((c) => c.cmd === 'record_consent')).toBe(true));
    expect(calls.find((c) => c.cmd === 'record_consent')!.args).toEqual({ contactId: 9, optedIn: true, note: 'said yes in the shop' });
    expect((await screen.findByRole('status')).textContent).toContain('Opt-in recorded');
  });

  it('offers no recording to a member who may not act', async () => {
    backend();
    render(ConsentPanel, { conversationId: 3, canAct: false });
    await screen.findAllByTestId('consent-channel');
    expect(screen.queryByTestId('consent-record-in')).toBeNull();
    expect(screen.queryByTestId('consent-record-out')).toBeNull();
  });
});
