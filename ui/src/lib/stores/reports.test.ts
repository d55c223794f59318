import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emptySetup, officeHours } from './automation.svelte';
import {
  ReportsState,
  addDays,
  csatScore,
  csvCell,
  isDay,
  presetRange,
  rangeProblem,
  tableRows,
  toCsv,
  todayIn,
} from './reports.svelte';
import { MEMBERS, report as reportFixture } from '../fixtures';
import type { ReportQuery } from '../ipc';

afterEach(() => clearMocks());

/** 2026-03-01 00:30 UTC: still 28 February in New York, already 1 March in Berlin. */
const AT = Date.UTC(2026, 2, 1, 0, 30);

describe('ranges in the desk’s zone', () => {
  it('takes today from the desk’s time zone, not UTC', () => {
    expect(todayIn('America/New_York', AT)).toBe('2026-02-28');
    expect(todayIn('Europe/Berlin', AT)).toBe('2026-03-01');
    expect(todayIn('UTC', AT)).toBe('2026-03-01');
    // A zone this browser does not know counts in UTC rather than failing the page.
    expect(todayIn('Mars/Olympus_Mons', AT)).toBe('2026-03-01');
  });

  it('counts every preset inclusively from today, across month and year ends', () => {
    expect(presetRange('today', '2026-03-01')).toEqual({ since: '2026-03-01', until: '2026-03-01' });
    expect(presetRange('last7', '2026-03-01')).toEqual({ since: '2026-02-23', until: '2026-03-01' });
    expect(presetRange('last30', '2026-03-01')).toEqual({ since: '2026-01-31', until: '2026-03-01' });
    expect(presetRange('last90', '2026-03-01')).toEqual({ since: '2025-12-02', until: '2026-03-01' });
    expect(presetRange('this_month', '2026-03-15')).toEqual({ since: '2026-03-01', until: '2026-03-15' });
    expect(presetRange('last_month', '2026-03-15')).toEqual({ since: '2026-02-01', until: '2026-02-28' });
    expect(presetRange('last_month', '2024-03-31')).toEqual({ since: '2024-02-01', until: '2024-02-29' });
    expect(presetRange('last_month', '2026-01-10')).toEqual({ since: '2025-12-01', until: '2025-12-31' });
    expect(presetRange('this_year', '2026-03-15')).toEqual({ since: '2026-01-01', until: '2026-03-15' });
  });

  it('checks custom days', () => {
    expect(isDay('2026-02-29')).toBe(false);
    expect(isDay('2024-02-29')).toBe(true);
    expect(isDay('2026-2-1')).toBe(false);
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(rangeProblem('2026-03-02', '2026-03-01')).toContain('must not be after');
    expect(rangeProblem('', '2026-03-01')).toContain('first day');
    expect(rangeProblem('2026-03-01', '2026-03-01')).toBeNull();
  });
});

describe('CSV', () => {
  it('quotes what needs it and defuses formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+1 555')).toBe("'+1 555");
    expect(csvCell('-2')).toBe("'-2");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\tcmd')).toBe("'\tcmd");
    expect(csvCell(-2)).toBe('-2');
    expect(csvCell(null)).toBe('');
    expect(toCsv([['a', 1], ['b', null]])).toBe('a,1\r\nb,\r\n');
  });

  it('writes each table with a header, agents by their team name and durations in seconds', () => {
    const report = reportFixture();
    const agents = toCsv(tableRows(report, 'agents', MEMBERS));
    expect(agents.split('\r\n')[0]).toBe('Agent,Email,Assigned,Replied,Resolved,Median first response (seconds)');
    expect(agents).toContain('Olga,olga@acme.test,12,40,9,95\r\n');
    // A member the desk does not list any more keeps their email; an agent named like a formula is defused.
    expect(agents).toContain("'=cmd|' /C calc'!A0,'=cmd|' /C calc'!A0,3,5,2,\r\n");
    expect(toCsv(tableRows(report, 'daily'))).toContain(`${report.daily[0].day},${report.daily[0].received},`);
    expect(toCsv(tableRows(report, 'channels')).split('\r\n')[1]).toBe('WhatsApp,120,64');
    expect(toCsv(tableRows(report, 'teams')).split('\r\n')[1]).toBe('Support,30,25,300,4');
  });

  it('writes the heatmap as a weekday per row and an hour per column, in the report’s zone', () => {
    const rows = toCsv(tableRows(reportFixture(), 'heatmap')).split('\r\n');
    expect(rows[0]).toBe(`Weekday (Europe/Berlin),${Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`).join(',')}`);
    expect(rows).toHaveLength(9); // header, Monday to Sunday, and the last line's end
    // Tuesdays at 10:00 are the busiest hour of the fixture.
    expect(rows[2].split(',')).toEqual(['Tuesday', ...Array.from({ length: 24 }, (_, h) => String(h === 10 ? 42 : h >= 9 && h < 18 ? 2 : 0))]);
    expect(rows[7].split(',')[0]).toBe('Sunday');
  });

  it('writes the survey’s ratings per agent and team, and its comments defused', () => {
    const report = reportFixture();
    const ratings = toCsv(tableRows(report, 'satisfaction', MEMBERS)).split('\r\n');
    expect(ratings.slice(0, 3)).toEqual(['Agent or team,Kind,Answers,Average rating', 'Olga,agent,14,4.21', 'Support,team,12,3.9']);
    const comments = toCsv(tableRows(report, 'comments', MEMBERS)).split('\r\n');
    expect(comments[1]).toBe(`2026-02-20T09:30:00.000Z,2,"'=HYPERLINK(""x"") too slow",Olga`);
    // A report without survey answers has only the headers.
    expect(tableRows(reportFixture({ satisfaction: null }), 'comments')).toHaveLength(1);
  });

  it('scores satisfaction as the share rating 4 or 5', () => {
    expect(csatScore(16, 20)).toBe(80);
    expect(csatScore(2, 3)).toBe(67);
    expect(csatScore(0, 0)).toBeNull();
  });
});

type Calls = { cmd: string; args: Record<string, unknown> }[];

function backend(answers: Record<string, (args: Record<string, unknown>) => unknown>): Calls {
  const calls: Calls = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    return answers[cmd]?.((args ?? {}) as Record<string, unknown>);
  });
  return calls;
}

const queries = (calls: Calls) => calls.filter((c) => c.cmd === 'report').map((c) => c.args.query as ReportQuery);

describe('ReportsState', () => {
  it('asks for the last 30 days in the desk’s zone, with the filters chosen', async () => {
    const calls = backend({
      desk_time_zone: () => 'America/New_York',
      automation_setup: () => ({ version: 1, setup: { ...emptySetup(), hours: officeHours('America/New_York') }, saved_at: null, saved_by: null }),
      members: () => MEMBERS,
      report: (args) => ({ ...reportFixture(), since: (args.query as ReportQuery).since }),
    });
    const reports = new ReportsState(() => AT);
    await reports.start();
    expect(queries(calls)[0]).toEqual({
      since: '2026-01-30',
      until: '2026-02-28',
      time_zone: 'America/New_York',
      channel_kind: null,
      team_id: null,
      member_id: null,
      business_hours_only: false,
    });
    expect(reports.report?.since).toBe('2026-01-30');
    expect(reports.hasHours).toBe(true);

    await reports.filter({ channelKind: 'instagram', memberId: 'm2', businessHoursOnly: true });
    expect(queries(calls).at(-1)).toMatchObject({ channel_kind: 'instagram', member_id: 'm2', team_id: null, business_hours_only: true });
    await reports.choose('last_month');
    expect(queries(calls).at(-1)).toMatchObject({ since: '2026-01-01', until: '2026-01-31', channel_kind: 'instagram' });
  });

  it('never asks for business hours the workspace does not have', async () => {
    const calls = backend({
      desk_time_zone: () => 'UTC',
      automation_setup: () => ({ version: 0, setup: emptySetup(), saved_at: null, saved_by: null }),
      members: () => [],
      report: () => reportFixture(),
    });
    const reports = new ReportsState(() => AT);
    await reports.start();
    await reports.filter({ businessHoursOnly: true });
    expect(reports.hasHours).toBe(false);
    expect(queries(calls).at(-1)?.business_hours_only).toBe(false);
  });

  it('says what is wrong with custom days without asking, and shows Rust’s refusal', async () => {
    const calls = backend({
      desk_time_zone: () => 'UTC',
      report: (args) => {
        if ((args.query as ReportQuery).since < '2000-01-01') throw { code: 'invalid', message: 'since 1999-01-01 is before any data; write a later day' };
        return reportFixture();
      },
    });
    const reports = new ReportsState(() => AT);
    await reports.start();
    const asked = queries(calls).length;
    await reports.setRange('2026-03-05', '2026-03-01');
    expect(reports.problem).toContain('must not be after');
    expect(queries(calls).length).toBe(asked);

    await reports.setRange('1999-01-01', '2026-03-01');
    expect(reports.problem).toBe('since 1999-01-01 is before any data; write a later day');
    // The last report stays on screen while the problem is shown.
    expect(reports.report).not.toBeNull();
    expect(reports.loading).toBe(false);
  });

  it('keeps the answer to the newest query when an older one arrives last', async () => {
    const pending: ((value: unknown) => void)[] = [];
    backend({
      desk_time_zone: () => 'UTC',
      report: (args) => new Promise((resolve) => pending.push(() => resolve({ ...reportFixture(), since: (args.query as ReportQuery).since }))),
    });
    const reports = new ReportsState(() => AT);
    const first = reports.choose('last7');
    const second = reports.choose('today');
    await new Promise((r) => setTimeout(r, 0));
    pending[1](null);
    await second;
    pending[0](null);
    await first;
    expect(reports.report?.since).toBe('2026-03-01');
    expect(reports.loading).toBe(false);
  });

  it('saves a table as CSV through Rust and says where', async () => {
    const calls = backend({
      desk_time_zone: () => 'UTC',
      members: () => MEMBERS,
      report: () => reportFixture(),
      save_report_csv: (args) => `/home/olga/Downloads/zentro-report-${args.name}-2026-03-01.csv`,
    });
    const reports = new ReportsState(() => AT);
    await reports.start();
    await reports.exportCsv('channels');
    const saved = calls.find((c) => c.cmd === 'save_report_csv')!;
    expect(saved.args.name).toBe('channels-2026-02-01-to-2026-03-01');
    expect(saved.args.csv).toBe('Channel,Received,Sent\r\nWhatsApp,120,64\r\nInstagram,30,12\r\n');
    expect(reports.saved).toEqual({ table: 'channels', path: '/home/olga/Downloads/zentro-report-channels-2026-02-01-to-2026-03-01-2026-03-01.csv' });
  });
});
