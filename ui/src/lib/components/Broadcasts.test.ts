import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import Broadcasts from './Broadcasts.svelte';
import { BroadcastsState } from '../stores/broadcasts.svelte';
import type { Audience, AudienceFilter, BroadcastDraft, CampaignCounts, Campaign } from '../ipc';

afterEach(() => {
  cleanup();
  clearMocks();
});

type Calls = { cmd: string; args: Record<string, unknown> }[];

const AT = Date.UTC(2026, 11, 7, 10, 0);

function counts(overrides: Partial<CampaignCounts> = {}): CampaignCounts {
  return { queued: 0, sending: 0, sent: 0, delivered: 0, read: 0, replied: 0, failed: 0, skipped: 0, cancelled: 0, ...overrides };
}

function campaign(overrides: Partial<Campaign> = {}): Campaign {
  return {
    id: 'c_1',
    name: 'Spring restock',
    channel_id: 'P1',
    template_name: 'restock',
    template_language: 'en_US',
    category: 'MARKETING',
    audience: 'WhatsApp Shop (whatsapp:P1); labels any of espresso',
    state: 'running',
    paused_reason: null,
    per_second: 20,
    send_at: null,
    created_by: 'm_admin',
    created_at: AT,
    started_at: AT,
    finished_at: null,
    counts: counts({ queued: 600, sent: 300, delivered: 50, read: 30, failed: 5, skipped: 15 }),
    ...overrides,
  };
}

/** What Rust counts for a filter: espresso has 3 eligible, anything else 985 of 1,000. */
function audienceFor(filter: AudienceFilter, marketing: boolean): Audience {
  const espresso = filter.labels.includes('espresso');
  return {
    eligible: espresso ? 3 : marketing ? 985 : 990,
    sample: [
      { contact_id: 1, customer_id: '351910000001', name: 'Ana', phone: '+351910000001' },
      { contact_id: 7, customer_id: '351910000007', name: '', phone: null },
    ],
    excluded: { no_consent: marketing ? 5 : 0, opted_out: 10, restricted: 5 },
    description: 'WhatsApp Shop',
  };
}

function backend(options: { canManage?: boolean; list?: Campaign[]; fresh?: () => Campaign } = {}): Calls {
  const calls: Calls = [];
  mockIPC((cmd, raw) => {
    const args = (raw ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    switch (cmd) {
      case 'broadcast_options':
        return {
          channels: [{ id: 'whatsapp:P1', external_id: 'P1', display_name: 'Shop', account_id: 'W1' }],
          labels: ['beans', 'espresso'],
          attribute_keys: ['city'],
          time_zone: 'Europe/Lisbon',
          can_manage: options.canManage ?? true,
        };
      case 'broadcasts':
        return options.list ?? [campaign(), campaign({ id: 'c_2', name: 'Booking reminder', state: 'paused', paused_reason: 'Meta paused the template (132015)', category: 'UTILITY' })];
      case 'broadcast_templates':
        return [
          { name: 'restock', language: 'en_US', category: 'MARKETING', body: 'Hi {{1}}, it is back!', quality: 'GREEN' },
          { name: 'booking_reminder', language: 'en_US', category: 'UTILITY', body: 'Your booking is tomorrow', quality: 'GREEN' },
        ];
      case 'broadcast_audience':
        return audienceFor(args.filter as AudienceFilter, args.marketing as boolean);
      case 'create_broadcast':
        return campaign({ id: 'c_new', name: (args.draft as BroadcastDraft).name, state: 'scheduled', counts: counts({ queued: 985 }) });
      case 'broadcast':
        return options.fresh ? options.fresh() : campaign();
      case 'broadcast_recipients':
        return {
          recipients: [
            { customer_id: '351910000001', name: 'Ana', status: 'delivered', skip_reason: null, error: null, updated_at: AT },
            { customer_id: '351910000002', name: 'Bea', status: 'skipped', skip_reason: 'opted_out', error: null, updated_at: AT },
          ],
          next: null,
        };
      case 'steer_broadcast':
        return campaign({ state: (args.action as string) === 'pause' ? 'paused' : 'cancelled', paused_reason: 'Paused by an admin' });
      case 'save_broadcast_csv':
        return '/home/olga/Downloads/zentro-report-campaign-spring-restock-2026-12-07.csv';
    }
    return undefined;
  });
  return calls;
}

const called = (calls: Calls, cmd: string) => calls.filter((c) => c.cmd === cmd);

/** Opens the new-campaign form once the page knows the member may create. */
async function openForm() {
  await waitFor(() => expect(screen.getByTestId('new-campaign').hasAttribute('disabled')).toBe(false));
  await fireEvent.click(screen.getByTestId('new-campaign'));
}

describe('Broadcasts', () => {
  it('lists the campaigns with their state and counts', async () => {
    backend();
    render(Broadcasts, { onclose: () => {} });
    const rows = await screen.findAllByTestId('campaign-row');
    expect(rows).toHaveLength(2);
    expect(rows[0].textContent).toContain('Spring restock');
    expect(within(rows[0]).getByTestId('campaign-state').textContent).toBe('Sending');
    // 1,000 recipients, 380 accepted by Meta (sent + delivered + read), 5 failed, 15 skipped.
    expect(rows[0].textContent).toMatch(/1,000.*380.*5.*15/s);
    expect(within(rows[1]).getByTestId('campaign-state').textContent).toBe('Paused');
  });

  it('offers the approved templates with their category, counts the audience live and confirms how many', async () => {
    const calls = backend();
    const state = new BroadcastsState(60_000, 0);
    render(Broadcasts, { onclose: () => {}, broadcasts: state });
    await openForm();
    const categories = await screen.findAllByTestId('template-category');
    expect(categories.map((c) => c.textContent)).toEqual(['marketing', 'utility']);
    expect(called(calls, 'broadcast_templates')[0].args).toEqual({ channelId: 'whatsapp:P1', refresh: false });
    // An admin can have the relay read them from Meta again.
    await fireEvent.click(screen.getByTestId('refresh-templates'));
    await waitFor(() => expect(called(calls, 'broadcast_templates')[1]?.args).toEqual({ channelId: 'whatsapp:P1', refresh: true }));
    await screen.findAllByTestId('template-category');
    // The first count, before anything is chosen: everyone on the number.
    await waitFor(() => expect(screen.getByTestId('audience-count').textContent).toBe('985'));
    expect(screen.getByTestId('audience-excluded').textContent).toMatch(/5 without consent · 10 opted out · 5 restricted/);

    await fireEvent.input(screen.getByTestId('campaign-name'), { target: { value: 'Espresso is back' } });
    await fireEvent.click(screen.getAllByTestId('template-choice')[0]);
    const labels = screen.getAllByTestId('audience-label');
    await fireEvent.click(labels[1]); // espresso
    await waitFor(() => expect(screen.getByTestId('audience-count').textContent).toBe('3'));
    const last = called(calls, 'broadcast_audience').at(-1)!;
    expect((last.args.filter as AudienceFilter).labels).toEqual(['espresso']);
    expect(last.args.marketing).toBe(true);
    expect(last.args.timeZone).toBe('Europe/Lisbon');
    expect(screen.getByTestId('audience-sample').textContent).toContain('Ana');

    await fireEvent.click(screen.getByTestId('send-later'));
    await fireEvent.input(screen.getByTestId('send-at'), { target: { value: '2026-12-08T09:30' } });
    await fireEvent.click(screen.getByTestId('campaign-review'));
    const confirm = await screen.findByTestId('confirm');
    expect(within(confirm).getByTestId('confirm-count').textContent).toBe('3');
    expect(confirm.textContent).toContain('2026-12-08 09:30 (Europe/Lisbon)');
    expect(called(calls, 'create_broadcast')).toHaveLength(0);

    await fireEvent.click(screen.getByTestId('confirm-send'));
    await screen.findByTestId('campaign');
    const draft = called(calls, 'create_broadcast')[0].args.draft as BroadcastDraft;
    expect(draft).toMatchObject({ name: 'Espresso is back', template_name: 'restock', template_language: 'en_US', per_second: 20, send_at: '2026-12-08T09:30' });
    expect(draft.audience.labels).toEqual(['espresso']);
    state.stop();
  });

  it('says why a campaign cannot be created, as Rust words it', async () => {
    const calls = backend();
    mockIPC((cmd, raw) => {
      calls.push({ cmd, args: (raw ?? {}) as Record<string, unknown> });
      if (cmd === 'create_broadcast') throw { code: 'offline', message: 'The relay could not be reached; nothing was sent.' };
      if (cmd === 'broadcast_options') return { channels: [{ id: 'whatsapp:P1', external_id: 'P1', display_name: 'Shop', account_id: null }], labels: [], attribute_keys: [], time_zone: 'UTC', can_manage: true };
      if (cmd === 'broadcasts') return [];
      if (cmd === 'broadcast_templates') return [{ name: 'restock', language: 'en_US', category: 'UTILITY', body: 'Hi', quality: 'GREEN' }];
      if (cmd === 'broadcast_audience') return audienceFor(((raw as Record<string, unknown>).filter as AudienceFilter), false);
      return undefined;
    });
    const state = new BroadcastsState(60_000, 0);
    render(Broadcasts, { onclose: () => {}, broadcasts: state });
    await openForm();
    await fireEvent.input(await screen.findByTestId('campaign-name'), { target: { value: 'Reminder' } });
    await fireEvent.click(await screen.findByTestId('template-choice'));
    await waitFor(() => expect(screen.getByTestId('campaign-review').hasAttribute('disabled')).toBe(false));
    await fireEvent.click(screen.getByTestId('campaign-review'));
    await fireEvent.click(await screen.findByTestId('confirm-send'));
    expect((await screen.findByTestId('create-problem')).textContent).toContain('could not be reached');
    state.stop();
  });

  it('shows a paused campaign’s reason, its results and recipients, and lets an admin steer it', async () => {
    const calls = backend({ list: [campaign({ state: 'paused', paused_reason: 'Meta paused the template (132015): low quality' })] });
    const state = new BroadcastsState(60_000, 0);
    render(Broadcasts, { onclose: () => {}, broadcasts: state });
    await fireEvent.click(await screen.findByTestId('open-campaign'));
    expect((await screen.findByTestId('paused-reason')).textContent).toContain('132015');
    expect(screen.getByTestId('result-skipped').textContent).toBe('15');
    expect(screen.getByTestId('result-delivered').textContent).toBe('50');
    const rows = await screen.findAllByTestId('recipient-row');
    expect(rows[1].textContent).toContain('opted out');
    // Resume and cancel for a paused campaign; cancelling asks once more.
    expect(screen.queryByTestId('campaign-pause')).toBeNull();
    await fireEvent.click(screen.getByTestId('campaign-cancel'));
    expect(called(calls, 'steer_broadcast')).toHaveLength(0);
    await fireEvent.click(screen.getByTestId('campaign-cancel'));
    await waitFor(() => expect(called(calls, 'steer_broadcast')[0]?.args).toEqual({ id: 'c_1', action: 'cancel' }));
    await waitFor(() => expect(screen.getByTestId('campaign-page-state').textContent).toBe('Cancelled'));

    await fireEvent.click(screen.getByTestId('campaign-csv'));
    expect((await screen.findByTestId('csv-saved')).textContent).toContain('zentro-report-campaign-spring-restock');
    expect(called(calls, 'save_broadcast_csv')[0].args).toEqual({ id: 'c_1', name: 'Spring restock' });
    state.stop();
  });

  it('hides pause, resume and cancel from agents and keeps them from creating', async () => {
    backend({ canManage: false });
    const state = new BroadcastsState(60_000, 0);
    render(Broadcasts, { onclose: () => {}, broadcasts: state });
    await waitFor(() => expect(screen.getByTestId('new-campaign').hasAttribute('disabled')).toBe(true));
    await fireEvent.click((await screen.findAllByTestId('open-campaign'))[0]);
    await screen.findByTestId('campaign');
    expect(screen.queryByTestId('campaign-actions')).toBeNull();
    state.stop();
  });

  it('polls an open campaign and draws its progress, and stops when it closes', async () => {
    let sent = 300;
    const calls = backend({ fresh: () => campaign({ counts: counts({ queued: 1000 - (sent += 100), sent }) }) });
    const state = new BroadcastsState(20, 0);
    const { unmount } = render(Broadcasts, { onclose: () => {}, broadcasts: state });
    await fireEvent.click((await screen.findAllByTestId('open-campaign'))[0]);
    await waitFor(() => expect(called(calls, 'broadcast').length).toBeGreaterThanOrEqual(2));
    await waitFor(() => expect(state.samples.length).toBeGreaterThanOrEqual(3));
    const reached = state.samples.map((s) => s.reached);
    expect(reached[0]).toBe(380);
    expect(reached.at(-1)!).toBeGreaterThan(reached[1]);
    const line = screen.getAllByTestId('progress-line').find((l) => l.getAttribute('data-series') === 'reached')!;
    await waitFor(() => expect(line.getAttribute('points')!.split(' ').length).toBeGreaterThanOrEqual(3));
    unmount();
    const polled = called(calls, 'broadcast').length;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(called(calls, 'broadcast').length).toBe(polled);
  });
});
