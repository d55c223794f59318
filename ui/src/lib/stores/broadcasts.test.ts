import { describe, expect, it } from 'vitest';
import { actionsFor, emptyForm, filterOf, reached, sample, settled, total } from './broadcasts.svelte';
import type { CampaignCounts } from '../ipc';

const COUNTS: CampaignCounts = { queued: 100, sending: 2, sent: 300, delivered: 50, read: 30, replied: 8, failed: 5, skipped: 15, cancelled: 0 };

describe('a campaign’s figures', () => {
  it('counts recipients, those Meta accepted and those with an outcome', () => {
    expect(total(COUNTS)).toBe(510);
    expect(reached(COUNTS)).toBe(388);
    expect(settled(COUNTS)).toBe(408);
    expect(sample(COUNTS, 7)).toEqual({ at: 7, reached: 388, delivered: 88, read: 38, failed: 5 });
  });

  it('offers the actions the relay accepts in each state', () => {
    expect(actionsFor('running')).toEqual(['pause', 'cancel']);
    expect(actionsFor('scheduled')).toEqual(['pause', 'cancel']);
    expect(actionsFor('paused')).toEqual(['resume', 'cancel']);
    expect(actionsFor('completed')).toEqual([]);
    expect(actionsFor('cancelled')).toEqual([]);
  });
});

describe('the audience the form describes', () => {
  it('drops empty attribute conditions and turns the last message into Rust’s shape', () => {
    const form = { ...emptyForm('whatsapp:P1'), labels: ['espresso'], labelMatch: 'all' as const };
    form.attributes = [
      { key: ' city ', value: ' Lisbon ' },
      { key: '', value: 'ignored' },
    ];
    expect(filterOf(form)).toEqual({
      channel_id: 'whatsapp:P1',
      labels: ['espresso'],
      label_match: 'all',
      attributes: [{ key: 'city', value: 'Lisbon' }],
      last_activity: null,
    });
    expect(filterOf({ ...form, activity: 'within', withinDays: 0 }).last_activity).toEqual({ kind: 'within_days', days: 1 });
    expect(filterOf({ ...form, activity: 'between', since: '2026-11-01', until: '2026-11-30' }).last_activity).toEqual({
      kind: 'between',
      since: '2026-11-01',
      until: '2026-11-30',
    });
    // Half a range is no condition yet (the form says what is missing).
    expect(filterOf({ ...form, activity: 'between', since: '2026-11-01' }).last_activity).toBeNull();
  });
});
