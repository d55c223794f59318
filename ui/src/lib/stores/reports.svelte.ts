// The Reports page's state: the date range (presets counted in the desk's time zone, or custom
// days), the filters and what they offer, the report Rust computed for them (loading, problem),
// and each table as CSV, saved through Rust to the Downloads folder. No DOM: components/Reports.svelte
// and components/reports/* draw it.
import {
  automationSetup,
  deskTimeZone,
  IpcError,
  members as loadMembers,
  report as loadReport,
  saveReportCsv,
  type Report,
  type ReportQuery,
  type Team,
  type Teammate,
} from '../ipc';
import { channelLabel } from '../format';

/** The date ranges offered; `custom` keeps the days picked by hand. */
export type RangePreset = 'today' | 'last7' | 'last30' | 'this_month' | 'last_month' | 'last90' | 'this_year' | 'custom';

/** The presets in the order the picker offers them, with what it says. */
export const PRESETS: readonly { id: RangePreset; label: string }[] = [
  { id: 'today', label: 'Today' },
  { id: 'last7', label: 'Last 7 days' },
  { id: 'last30', label: 'Last 30 days' },
  { id: 'this_month', label: 'This month' },
  { id: 'last_month', label: 'Last month' },
  { id: 'last90', label: 'Last 90 days' },
  { id: 'this_year', label: 'This year' },
  { id: 'custom', label: 'Custom' },
];

/** The channel kinds a report can be limited to. */
export const REPORT_CHANNELS: readonly string[] = ['whatsapp', 'messenger', 'instagram'];

/** The tables (and the daily series) that export as CSV. */
export type ReportTable = 'daily' | 'heatmap' | 'agents' | 'channels' | 'teams' | 'satisfaction' | 'comments';

/** A day as `YYYY-MM-DD`. */
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Today's date in `timeZone` at `nowMs`, `YYYY-MM-DD` (in UTC when the zone is unknown here). */
export function todayIn(timeZone: string, nowMs: number): string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  } catch {
    format = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' });
  }
  const parts = format.formatToParts(new Date(nowMs));
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')}`;
}

/** Whether `day` is a real calendar day written `YYYY-MM-DD`. */
export function isDay(day: string): boolean {
  const match = DAY.exec(day);
  if (!match) return false;
  const [year, month, date] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const parsed = new Date(Date.UTC(year, month - 1, date));
  return parsed.getUTCFullYear() === year && parsed.getUTCMonth() === month - 1 && parsed.getUTCDate() === date;
}

/** `day` moved by `days` calendar days. */
export function addDays(day: string, days: number): string {
  const [year, month, date] = day.split('-').map(Number);
  return new Date(Date.UTC(year, month - 1, date + days)).toISOString().slice(0, 10);
}

/** The days preset `preset` covers on `today` (both ends included); `custom` has none. */
export function presetRange(preset: Exclude<RangePreset, 'custom'>, today: string): { since: string; until: string } {
  const year = today.slice(0, 4);
  const firstOfMonth = `${today.slice(0, 8)}01`;
  switch (preset) {
    case 'today':
      return { since: today, until: today };
    case 'last7':
      return { since: addDays(today, -6), until: today };
    case 'last30':
      return { since: addDays(today, -29), until: today };
    case 'last90':
      return { since: addDays(today, -89), until: today };
    case 'this_month':
      return { since: firstOfMonth, until: today };
    case 'last_month': {
      const lastDay = addDays(firstOfMonth, -1);
      return { since: `${lastDay.slice(0, 8)}01`, until: lastDay };
    }
    case 'this_year':
      return { since: `${year}-01-01`, until: today };
  }
}

/** What is wrong with a custom range, or null when it can be asked for. */
export function rangeProblem(since: string, until: string): string | null {
  if (!isDay(since)) return 'Pick the first day of the range.';
  if (!isDay(until)) return 'Pick the last day of the range.';
  if (since > until) return 'The first day must not be after the last day.';
  return null;
}

/** A CSV cell's quote, and what makes a cell need quotes: a quote, a comma or a line break. */
const QUOTE = '"';
const NEEDS_QUOTES = /[\u0022,\r\n]/;

/**
 * One CSV cell: quoted when it holds a quote, a comma or a line break (quotes doubled), and text
 * that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return)
 * prefixed with a single quote. Numbers are written as they are; null is an empty cell.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  if (NEEDS_QUOTES.test(text)) text = QUOTE + text.replaceAll(QUOTE, QUOTE + QUOTE) + QUOTE;
  return text;
}

/** Rows as CSV (RFC 4180: comma separated, CRLF after every row). */
export function toCsv(rows: readonly (readonly (string | number | null)[])[]): string {
  return rows.map((row) => row.map(csvCell).join(',') + '\r\n').join('');
}

/** Who a member is for people: their name on the team, else the email the report knows, else the id. */
export function agentName(memberId: string, email: string, members: readonly Teammate[]): string {
  return members.find((m) => m.id === memberId)?.display_name || email || memberId;
}

/** Table `table` of `report` as rows, a header first (durations in seconds, for spreadsheets). */
export function tableRows(report: Report, table: ReportTable, members: readonly Teammate[] = []): (string | number | null)[][] {
  switch (table) {
    case 'daily':
      return [['Day', 'Received', 'Sent', 'Opened', 'Resolved'], ...report.daily.map((d) => [d.day, d.received, d.sent, d.opened, d.resolved])];
    case 'heatmap': {
      const weekdays = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
      const hours = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
      return [
        [`Weekday (${report.time_zone})`, ...hours],
        ...weekdays.map((day, d) => [day, ...(report.received_by_weekday_hour[d] ?? Array(24).fill(0))]),
      ];
    }
    case 'agents':
      return [
        ['Agent', 'Email', 'Assigned', 'Replied', 'Resolved', 'Median first response (seconds)'],
        ...report.by_agent.map((a) => [agentName(a.member_id, a.email, members), a.email, a.assigned, a.replied, a.resolved, a.first_response_median_seconds]),
      ];
    case 'channels':
      return [['Channel', 'Received', 'Sent'], ...report.by_channel.map((c) => [channelLabel(c.channel_kind), c.received, c.sent])];
    case 'teams':
      return [
        ['Team', 'Opened', 'Resolved', 'Median first response (seconds)', 'First responses late'],
        ...report.by_team.map((t) => [t.name, t.opened, t.resolved, t.first_response_median_seconds, t.sla_breached]),
      ];
    case 'satisfaction': {
      const s = report.satisfaction;
      const teamName = (id: string) => report.by_team.find((t) => t.team_id === id)?.name ?? id;
      return [
        ['Agent or team', 'Kind', 'Answers', 'Average rating'],
        ...(s?.by_agent ?? []).map((a) => [agentName(a.member_id, '', members), 'agent', a.responses, roundRating(a.average)]),
        ...(s?.by_team ?? []).map((t) => [teamName(t.team_id), 'team', t.responses, roundRating(t.average)]),
      ];
    }
    case 'comments':
      return [
        ['Rated at (UTC)', 'Rating', 'Comment', 'Agent'],
        ...(report.satisfaction?.comments ?? []).map((c) => [
          new Date(c.at).toISOString(),
          c.rating,
          c.comment,
          c.member_id ? agentName(c.member_id, '', members) : null,
        ]),
      ];
  }
}

/** An average rating with two decimals (as a number, for spreadsheets); `null` without one. */
export function roundRating(average: number | null): number | null {
  return average === null ? null : Math.round(average * 100) / 100;
}

/** The CSAT score: the share of answers rating 4 or 5, in whole percent; `null` without answers. */
export function csatScore(satisfied: number, responses: number): number | null {
  return responses > 0 ? Math.round((100 * satisfied) / responses) : null;
}

/** What a saved CSV file is called (before Rust adds the date): the table and the range. */
export function csvName(report: Report, table: ReportTable): string {
  return `${table}-${report.since}-to-${report.until}`;
}

/** The Reports page's state over one desk. */
export class ReportsState {
  /** The desk's IANA time zone, which the presets and the report count days in. */
  timeZone = $state('UTC');
  /** The range's preset, or `custom`. */
  preset = $state<RangePreset>('last30');
  /** The first day of the range. */
  since = $state('');
  /** The last day of the range. */
  until = $state('');
  /** Only this channel kind (null: all). */
  channelKind = $state<string | null>(null);
  /** Only this team's conversations (null: all). */
  teamId = $state<string | null>(null);
  /** Only this member's work (null: everyone). */
  memberId = $state<string | null>(null);
  /** Count durations only within business hours. */
  businessHoursOnly = $state(false);
  /** The workspace's teams, for the team filter. */
  teams = $state<Team[]>([]);
  /** The workspace's members, for the agent filter and the agents' names. */
  members = $state<Teammate[]>([]);
  /** Whether the workspace (or a team) has business hours: only then is the toggle offered. */
  hasHours = $state(false);
  /** The report of the current query, once loaded. */
  report = $state<Report | null>(null);
  /** A report is being computed. */
  loading = $state(false);
  /** Why the last report could not be made, for people. */
  problem = $state<string | null>(null);
  /** Where the last CSV went, and which table it was. */
  saved = $state<{ table: ReportTable; path: string } | null>(null);
  /** Why the last CSV could not be saved. */
  saveProblem = $state<string | null>(null);

  /** Counts the reports asked for, so an answer to an older query never replaces a newer one. */
  #asked = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#applyPreset('last30');
  }

  /** The query the page's choices make. */
  get query(): ReportQuery {
    return {
      since: this.since,
      until: this.until,
      time_zone: this.timeZone,
      channel_kind: this.channelKind,
      team_id: this.teamId,
      member_id: this.memberId,
      business_hours_only: this.hasHours && this.businessHoursOnly,
    };
  }

  /** Learns the desk's zone and what the filters offer, then loads the last 30 days. */
  async start(): Promise<void> {
    this.timeZone = await deskTimeZone().catch(() => 'UTC');
    this.#applyPreset(this.preset === 'custom' ? 'last30' : this.preset);
    await Promise.all([this.#loadFilters(), this.load()]);
  }

  async #loadFilters(): Promise<void> {
    const [setup, members] = await Promise.all([automationSetup().catch(() => null), loadMembers().catch(() => [])]);
    this.teams = setup?.setup.teams ?? [];
    this.hasHours = !!setup && (setup.setup.hours !== null || setup.setup.teams.some((t) => t.hours !== null));
    this.members = members;
  }

  #applyPreset(preset: Exclude<RangePreset, 'custom'>): void {
    const range = presetRange(preset, todayIn(this.timeZone, this.#now()));
    this.preset = preset;
    this.since = range.since;
    this.until = range.until;
  }

  /** Picks a preset (counted from today in the desk's zone) and loads it; `custom` keeps the days. */
  choose(preset: RangePreset): Promise<void> {
    if (preset === 'custom') {
      this.preset = 'custom';
      return Promise.resolve();
    }
    this.#applyPreset(preset);
    return this.load();
  }

  /** Sets custom days and loads them, or says what is wrong with them (nothing is asked then). */
  setRange(since: string, until: string): Promise<void> {
    this.preset = 'custom';
    this.since = since;
    this.until = until;
    const problem = rangeProblem(since, until);
    if (problem) {
      this.problem = problem;
      return Promise.resolve();
    }
    return this.load();
  }

  /** Changes the filters (what is not given stays) and loads the report again. */
  filter(change: { channelKind?: string | null; teamId?: string | null; memberId?: string | null; businessHoursOnly?: boolean }): Promise<void> {
    if (change.channelKind !== undefined) this.channelKind = change.channelKind;
    if (change.teamId !== undefined) this.teamId = change.teamId;
    if (change.memberId !== undefined) this.memberId = change.memberId;
    if (change.businessHoursOnly !== undefined) this.businessHoursOnly = change.businessHoursOnly;
    return this.load();
  }

  /** Computes the report of the current query; a problem keeps the last report on screen. */
  async load(): Promise<void> {
    const asked = ++this.#asked;
    const problem = rangeProblem(this.since, this.until);
    if (problem) {
      this.problem = problem;
      return;
    }
    this.loading = true;
    this.problem = null;
    try {
      const report = await loadReport(this.query);
      if (asked === this.#asked) this.report = report;
    } catch (raw) {
      if (asked === this.#asked) this.problem = IpcError.from(raw).message;
    } finally {
      if (asked === this.#asked) this.loading = false;
    }
  }

  /** Table `table` of the report on screen as CSV. */
  csv(table: ReportTable): string {
    return this.report ? toCsv(tableRows(this.report, table, this.members)) : '';
  }

  /** Saves table `table` as a CSV file in the Downloads folder; `saved` says where. */
  async exportCsv(table: ReportTable): Promise<void> {
    const report = this.report;
    if (!report) return;
    this.saved = null;
    this.saveProblem = null;
    try {
      const path = await saveReportCsv(csvName(report, table), toCsv(tableRows(report, table, this.members)));
      this.saved = { table, path };
    } catch (raw) {
      this.saveProblem = IpcError.from(raw).message;
    }
  }
}
