import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import Reports from './Reports.svelte';
import { emptySetup, officeHours } from '../stores/automation.svelte';
import { MEMBERS, report } from '../fixtures';
import type { ReportQuery } from '../ipc';

afterEach(() => {
  cleanup();
  clearMocks();
});

type Calls = { cmd: string; args: Record<string, unknown> }[];

function backend(hours = true): Calls {
  const calls: Calls = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    switch (cmd) {
      case 'desk_time_zone':
        return 'Europe/Berlin';
      case 'automation_setup':
        return {
          version: 1,
          setup: {
            ...emptySetup(),
            hours: hours ? officeHours('Europe/Berlin') : null,
            teams: [{ id: 'support', name: 'Support', members: ['m1'], assignment: 'manual', hours: null, first_response_minutes: 15 }],
          },
          saved_at: null,
          saved_by: null,
        };
      case 'members':
        return MEMBERS;
      case 'report':
        return report({ business_hours_only: (args as { query: ReportQuery }).query.business_hours_only });
      case 'save_report_csv':
        return `/home/olga/Downloads/zentro-report-${(args as { name: string }).name}-2026-03-01.csv`;
    }
    return undefined;
  });
  return calls;
}

describe('Reports', () => {
  it('shows the key figures as tiles, durations for people', async () => {
    backend();
    render(Reports, { onclose: () => {} });
    const tiles = await screen.findByTestId('report-tiles');
    expect(within(tiles).getByTestId('tile-opened').textContent).toContain('58');
    expect(within(tiles).getByTestId('tile-reopened').textContent).toContain('6');
    expect(within(tiles).getByTestId('tile-received').textContent).toContain('150');
    expect(within(tiles).getByTestId('tile-first-response').textContent).toContain('4m');
    expect(within(tiles).getByTestId('tile-first-response').textContent).toContain('p90 1h 30m');
    expect(within(tiles).getByTestId('tile-resolution').textContent).toContain('2h 3m');
    expect(within(tiles).getByTestId('tile-resolution').textContent).toContain('2d 5h');
    expect(within(tiles).getByTestId('tile-queue').textContent).toContain('oldest waits 1h 35m');
    expect(within(tiles).getByTestId('tile-sla').textContent).toMatch(/26 met.*4 late/s);
  });

  it('shows the satisfaction survey: the score, the ratings drawn, per agent and team, and comments', async () => {
    backend();
    render(Reports, { onclose: () => {} });
    const tile = await screen.findByTestId('tile-satisfaction');
    expect(tile.textContent).toContain('80 %');
    expect(tile.textContent).toContain('average 4.05');
    expect(tile.textContent).toContain('20 answers');
    const bars = screen.getAllByTestId('rating-bar');
    expect(bars.map((b) => b.getAttribute('data-rating'))).toEqual(['5', '4', '3', '2', '1']);
    expect(Number(bars[0].getAttribute('width'))).toBeGreaterThan(Number(bars[2].getAttribute('width')));
    expect(screen.getByTestId('table-satisfaction').textContent).toContain('4.21');
    expect(screen.getByTestId('table-satisfaction').textContent).toContain('Team Support');
    expect(screen.getByTestId('table-comments').textContent).toContain('too slow');
  });

  it('draws the heatmap, the daily volume and the channels', async () => {
    backend();
    render(Reports, { onclose: () => {} });
    await screen.findByTestId('heatmap');
    const cells = screen.getAllByTestId('heat-cell');
    expect(cells.length).toBe(7 * 24);
    // Tuesday 10:00 is the busiest hour: fully shaded, and says so.
    const busiest = cells[1 * 24 + 10];
    expect(busiest.getAttribute('data-count')).toBe('42');
    expect(busiest.getAttribute('fill-opacity')).toBe('1');
    expect(busiest.textContent).toContain('Tue 10:00–11:00: 42 received');
    expect(cells[0].getAttribute('fill-opacity')).toBe('0');
    expect(screen.getAllByTestId('daily-day').length).toBe(29);
    expect(screen.getByTestId('daily-chart').querySelectorAll('polyline').length).toBe(4);
    const bars = screen.getAllByTestId('channel-bar');
    expect(bars.map((b) => b.getAttribute('data-kind'))).toEqual(['whatsapp', 'instagram']);
    expect(Number(bars[0].getAttribute('width'))).toBeGreaterThan(Number(bars[1].getAttribute('width')));
  });

  it('lists agents by name, teams and channels, and saves a table as CSV', async () => {
    const calls = backend();
    render(Reports, { onclose: () => {} });
    const agents = await screen.findByTestId('table-agents');
    const rows = within(agents).getAllByRole('row').map((r) => r.textContent);
    expect(rows[1]).toMatch(/Olga.*12.*40.*9.*1m/);
    expect(rows[2]).toContain("=cmd|' /C calc'!A0");
    expect(within(screen.getByTestId('table-teams')).getAllByRole('row')[1].textContent).toMatch(/Support.*30.*25.*5m.*4/);
    expect(within(screen.getByTestId('table-channels')).getAllByRole('row')[2].textContent).toMatch(/Instagram.*30.*12/);

    await fireEvent.click(screen.getByTestId('csv-agents'));
    expect((await screen.findByTestId('csv-saved')).textContent).toContain('zentro-report-agents-2026-02-01-to-2026-03-01');
    const csv = calls.find((c) => c.cmd === 'save_report_csv')!.args.csv as string;
    expect(csv).toContain("'=cmd|' /C calc'!A0");
  });

  it('filters by team and business hours, and offers the toggle only with hours', async () => {
    const calls = backend();
    render(Reports, { onclose: () => {} });
    await screen.findByTestId('report-tiles');
    await fireEvent.change(await screen.findByTestId('report-team'), { target: { value: 'support' } });
    await fireEvent.click(screen.getByTestId('report-business-hours'));
    await waitFor(() =>
      expect(calls.filter((c) => c.cmd === 'report').at(-1)?.args.query).toMatchObject({ team_id: 'support', business_hours_only: true, time_zone: 'Europe/Berlin' }),
    );
    expect(await screen.findByText('Durations count business hours only.')).toBeTruthy();
    cleanup();

    backend(false);
    render(Reports, { onclose: () => {} });
    await screen.findByTestId('report-tiles');
    expect(screen.queryByTestId('report-business-hours')).toBeNull();
  });

  it('picks custom days, and refuses a range that ends before it starts', async () => {
    const calls = backend();
    render(Reports, { onclose: () => {} });
    await screen.findByTestId('report-tiles');
    await fireEvent.change(screen.getByTestId('report-preset'), { target: { value: 'custom' } });
    await fireEvent.input(screen.getByTestId('report-since'), { target: { value: '2026-02-10' } });
    await fireEvent.input(screen.getByTestId('report-until'), { target: { value: '2026-02-01' } });
    await fireEvent.click(screen.getByTestId('report-apply'));
    expect((await screen.findByTestId('report-problem')).textContent).toContain('must not be after');
    await fireEvent.input(screen.getByTestId('report-until'), { target: { value: '2026-02-20' } });
    await fireEvent.click(screen.getByTestId('report-apply'));
    await waitFor(() => expect(calls.filter((c) => c.cmd === 'report').at(-1)?.args.query).toMatchObject({ since: '2026-02-10', until: '2026-02-20' }));
  });
});
