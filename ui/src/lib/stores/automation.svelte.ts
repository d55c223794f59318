// Team → Automation's state: the setup the relay keeps (with its version), the admin's draft of
// it, whether the draft differs, what in it the relay would refuse (the rules of
// crates/automation/src/setup.rs, per field), saving over the version loaded, and the preview of
// the last 7 days. No DOM: the components in components/team/Automation*.svelte edit `draft`
// through it.
import {
  automationSetup,
  IpcError,
  previewAutomation,
  saveAutomationSetup,
  type AutomationPreview,
  type AutomationSetup,
  type Hours,
  type Menu,
  type Setup,
  type Team,
  type Texts,
} from '../ipc';

/** The longest automated text in bytes (Meta's smallest limit), as setup.rs's `MAX_TEXT`. */
export const MAX_TEXT = 1000;
/** Most teams in a workspace. */
export const MAX_TEAMS = 50;
/** Most menu options (WhatsApp's 10 list rows). */
export const MAX_MENU_OPTIONS = 10;
/** The longest menu option title (characters). */
export const MAX_OPTION_TITLE = 20;
/** The weekdays of `Hours.weekly`, Monday first. */
export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
/** The channel kinds a text may have its own version for. */
export const CHANNEL_KINDS = ['whatsapp', 'messenger', 'instagram'];
/** What the Save button says was refused because someone else saved first. */
export const CONFLICT =
  'Someone else saved the automation while you were editing. Reload to see their version (your changes here are then dropped), and make yours again.';

/** What a field of the draft needs fixed: `path` names the field (`teams.0.name`, `hours.weekly.2.0`…). */
export type FieldProblem = { path: string; message: string };

/** The id of the element that shows the problem of field `path` (for `aria-describedby`). */
export function problemId(path: string): string {
  return `automation-problem-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;
}

/** A setup with nothing on: what the relay answers for a workspace that never saved one. */
export function emptySetup(): Setup {
  return {
    enabled: false,
    hours: null,
    teams: [],
    capacities: {},
    channel_teams: {},
    greeting: null,
    away: null,
    menu: null,
    agent_keywords: ['agent'],
    hand_back_after_minutes: null,
    csat: null,
    consent: defaultConsent(),
  };
}

/** The stop and start keywords a workspace starts with (as Rust's `ConsentKeywords::default`). */
export function defaultConsent(): Setup['consent'] {
  return {
    stop: ['STOP', 'UNSUBSCRIBE', 'STOPP', 'ABMELDEN', 'BAJA', 'ARRET', 'DESCADASTRAR'],
    start: ['START', 'ANMELDEN', 'ALTA', 'SUBSCRIBE'],
    stopped_reply: { text: 'You will no longer receive marketing messages from us. Reply START to receive them again.' },
    started_reply: { text: 'You will receive our marketing messages again. Reply STOP to stop them.' },
  };
}

/** The satisfaction survey's section of a setup. */
export type Csat = NonNullable<Setup['csat']>;

/** The satisfaction survey an admin starts from: the question, a comment question and thanks. */
export function starterCsat(): Csat {
  return {
    question: { text: 'How would you rate our help?' },
    comment_prompt: { text: 'Thanks! Anything you would like to add? Just reply.' },
    thanks: { text: 'Thank you for your feedback!' },
    button: 'Rate',
  };
}

/** Weekdays 09:00–17:00 in `timeZone`, weekends closed. */
export function officeHours(timeZone: string): Hours {
  const day = () => [{ start: '09:00', end: '17:00' }];
  return { time_zone: timeZone, weekly: [day(), day(), day(), day(), day(), [], []], holidays: [] };
}

/** The menu an admin starts from, routing to `team`. */
export function starterMenu(team: string): Menu {
  return {
    prompt: { text: 'Hi! What can we help you with?' },
    options: [{ id: 'option-1', title: 'Talk to us', team }],
    retry: { text: 'Sorry, I did not get that. Please pick one of the options.' },
    handoff: { text: 'Thanks! A person will answer you shortly.' },
    button: 'Choose',
  };
}

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text).length;
const chars = (text: string) => [...text].length;
const isId = (id: string) => /^[A-Za-z0-9_-]{1,32}$/.test(id);
const isWhole = (n: unknown, least: number) => typeof n === 'number' && Number.isInteger(n) && n >= least && n <= 4294967295;

/** Minutes since midnight of `HH:MM` (up to `24:00`), or null. */
export function minutesOf(hhmm: string): number | null {
  const match = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!match) return null;
  const [h, m] = [Number(match[1]), Number(match[2])];
  return m < 60 && (h < 24 || (h === 24 && m === 0)) ? h * 60 + m : null;
}

/** Whether `zone` is an IANA time zone this computer knows. */
export function isTimeZone(zone: string): boolean {
  if (!zone.trim()) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Whether `date` is a real `YYYY-MM-DD` date. */
export function isDate(date: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!match) return false;
  const parsed = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return parsed.toISOString().slice(0, 10) === date;
}

function hoursProblems(hours: Hours, at: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (!isTimeZone(hours.time_zone)) out.push({ path: `${at}.time_zone`, message: 'Pick a time zone.' });
  if (hours.weekly.length !== 7) out.push({ path: `${at}.weekly`, message: 'Weekly hours list seven days, Monday first.' });
  hours.weekly.forEach((day, d) => {
    if (day.length > 8) out.push({ path: `${at}.weekly.${d}`, message: 'At most 8 open spans a day.' });
    day.forEach((span, s) => {
      const [start, end] = [minutesOf(span.start), minutesOf(span.end)];
      if (start === null || end === null || start >= end) {
        out.push({ path: `${at}.weekly.${d}.${s}`, message: 'Open from HH:MM to a later HH:MM (up to 24:00).' });
      }
    });
  });
  if (hours.holidays.length > 366) out.push({ path: `${at}.holidays`, message: 'At most 366 holidays.' });
  hours.holidays.forEach((date, i) => {
    if (!isDate(date)) out.push({ path: `${at}.holidays.${i}`, message: `${date || 'An empty date'} is not a date (YYYY-MM-DD).` });
  });
  return out;
}

function textsProblems(texts: Texts, at: string, what: string): FieldProblem[] {
  const out: FieldProblem[] = [];
  const check = (text: string, path: string) => {
    if (!text.trim()) out.push({ path, message: `${what} can't be empty.` });
    else if (bytes(text) > MAX_TEXT) out.push({ path, message: `${what} has at most ${MAX_TEXT} bytes (Meta's limit).` });
  };
  check(texts.text, `${at}.text`);
  for (const [language, text] of Object.entries(texts.by_language ?? {})) {
    if (!language.trim()) out.push({ path: `${at}.by_language.${language}`, message: 'Name the language (e.g. pt).' });
    check(text, `${at}.by_language.${language}`);
  }
  for (const [kind, text] of Object.entries(texts.by_channel ?? {})) {
    if (!CHANNEL_KINDS.includes(kind)) out.push({ path: `${at}.by_channel.${kind}`, message: `${kind} is not a channel kind (whatsapp, messenger or instagram).` });
    check(text, `${at}.by_channel.${kind}`);
  }
  return out;
}

function teamProblems(team: Team, at: string, members: ReadonlySet<string>): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (!isId(team.id)) out.push({ path: `${at}.id`, message: "A team's id has 1 to 32 letters, digits, '-' or '_'." });
  if (!team.name.trim() || bytes(team.name) > 64) out.push({ path: `${at}.name`, message: "A team's name has 1 to 64 characters." });
  const unknown = team.members.filter((m) => !members.has(m));
  if (unknown.length) out.push({ path: `${at}.members`, message: `${unknown.join(', ')} is not a member of the workspace.` });
  if (new Set(team.members).size !== team.members.length) out.push({ path: `${at}.members`, message: 'The team lists a member twice.' });
  if (team.hours) out.push(...hoursProblems(team.hours, `${at}.hours`));
  if (team.first_response_minutes !== null && !isWhole(team.first_response_minutes, 1)) {
    out.push({ path: `${at}.first_response_minutes`, message: 'A first-response target is a whole number of minutes, at least 1 (or none).' });
  }
  return out;
}

function menuProblems(menu: Menu, teams: ReadonlySet<string>): FieldProblem[] {
  const out = [
    ...textsProblems(menu.prompt, 'menu.prompt', "The menu's question"),
    ...textsProblems(menu.retry, 'menu.retry', "The menu's second question"),
    ...(menu.handoff ? textsProblems(menu.handoff, 'menu.handoff', "The menu's hand-off message") : []),
  ];
  if (menu.options.length === 0 || menu.options.length > MAX_MENU_OPTIONS) {
    out.push({ path: 'menu.options', message: `A menu has 1 to ${MAX_MENU_OPTIONS} options.` });
  }
  const ids = new Set<string>();
  menu.options.forEach((option, i) => {
    const at = `menu.options.${i}`;
    if (!isId(option.id) || ids.has(option.id)) out.push({ path: `${at}.id`, message: "Each option needs its own id (letters, digits, '-' or '_')." });
    ids.add(option.id);
    if (!option.title.trim() || chars(option.title) > MAX_OPTION_TITLE) {
      out.push({ path: `${at}.title`, message: `A title has 1 to ${MAX_OPTION_TITLE} characters (Meta's limit).` });
    }
    if (!teams.has(option.team)) out.push({ path: `${at}.team`, message: 'Pick the team this option routes to.' });
  });
  if (!menu.button.trim() || chars(menu.button) > 20) out.push({ path: 'menu.button', message: 'The list button has 1 to 20 characters.' });
  return out;
}

function csatProblems(csat: Csat): FieldProblem[] {
  const out = textsProblems(csat.question, 'csat.question', "The survey's question");
  if (csat.comment_prompt) out.push(...textsProblems(csat.comment_prompt, 'csat.comment_prompt', "The survey's comment question"));
  if (csat.thanks) out.push(...textsProblems(csat.thanks, 'csat.thanks', "The survey's thanks"));
  if (!csat.button.trim() || chars(csat.button) > 20) out.push({ path: 'csat.button', message: 'The list button has 1 to 20 characters.' });
  return out;
}

/**
 * What the relay would refuse in `setup`, per field, given the workspace's `members` (ids): the
 * rules of `Setup::validate` in crates/automation/src/setup.rs, said for people.
 */
export function validateSetup(setup: Setup, members: ReadonlySet<string>): FieldProblem[] {
  const out: FieldProblem[] = [];
  if (setup.teams.length > MAX_TEAMS) out.push({ path: 'teams', message: `A workspace has at most ${MAX_TEAMS} teams.` });
  const teamIds = new Set<string>();
  setup.teams.forEach((team, i) => {
    out.push(...teamProblems(team, `teams.${i}`, members));
    if (teamIds.has(team.id)) out.push({ path: `teams.${i}.id`, message: `Two teams have the id ${team.id}.` });
    teamIds.add(team.id);
  });
  for (const [member, capacity] of Object.entries(setup.capacities)) {
    if (!members.has(member)) out.push({ path: `capacities.${member}`, message: `${member} is not a member of the workspace.` });
    else if (!isWhole(capacity, 0)) out.push({ path: `capacities.${member}`, message: 'A capacity is a whole number of conversations.' });
  }
  for (const [channel, team] of Object.entries(setup.channel_teams)) {
    if (!channel.includes(':')) out.push({ path: `channel_teams.${channel}`, message: 'A channel is named "<kind>:<Meta id>".' });
    if (!teamIds.has(team)) out.push({ path: `channel_teams.${channel}`, message: 'Pick a team that exists.' });
  }
  if (setup.hours) out.push(...hoursProblems(setup.hours, 'hours'));
  if (setup.greeting) out.push(...textsProblems(setup.greeting, 'greeting', 'The greeting'));
  if (setup.away) out.push(...textsProblems(setup.away, 'away', 'The away message'));
  if (setup.menu) out.push(...menuProblems(setup.menu, teamIds));
  if (setup.agent_keywords.length > 20 || setup.agent_keywords.some((k) => !k.trim() || bytes(k) > 32)) {
    out.push({ path: 'agent_keywords', message: 'At most 20 keywords, each of 1 to 32 characters.' });
  }
  if (setup.csat) out.push(...csatProblems(setup.csat));
  if (setup.hand_back_after_minutes !== null && !isWhole(setup.hand_back_after_minutes, 1)) {
    out.push({ path: 'hand_back_after_minutes', message: 'Hand back after at least one whole minute offline (or never).' });
  }
  return out;
}

/** `setup` as one string with keys in order and empty per-language/per-channel maps left out. */
function canonical(setup: Setup): string {
  return JSON.stringify(setup, (key, value: unknown) => {
    if ((key === 'by_language' || key === 'by_channel') && value && Object.keys(value).length === 0) return undefined;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
    }
    return value;
  });
}

/** A deep copy of plain JSON data (works on $state proxies). */
function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The smallest `<prefix>-N` not in `taken`. */
function freshId(prefix: string, taken: string[]): string {
  let n = 1;
  while (taken.includes(`${prefix}-${n}`)) n++;
  return `${prefix}-${n}`;
}

export class AutomationState {
  /** The setup as last loaded or saved, with its version. */
  saved = $state<AutomationSetup | null>(null);
  /** What the admin is editing. */
  draft = $state<Setup>(emptySetup());
  loading = $state(true);
  saving = $state(false);
  problem = $state<string | null>(null);
  notice = $state<string | null>(null);
  /** The last save was refused because someone else saved first: reload before saving again. */
  conflict = $state(false);
  /** What the draft would have done over the last 7 days, once asked. */
  preview = $state<AutomationPreview | null>(null);
  previewing = $state(false);
  readonly #members: () => string[];

  /** `members`: the workspace's member ids, read at each validation. */
  constructor(members: () => string[]) {
    this.#members = members;
  }

  /** What in the draft the relay would refuse. */
  get problems(): FieldProblem[] {
    return validateSetup(this.draft, new Set(this.#members()));
  }

  /** The first problem of the field at `path`, if any. */
  problemAt(path: string): string | null {
    return this.problems.find((p) => p.path === path)?.message ?? null;
  }

  /** The attributes that tie the field at `path` to its problem, for assistive technology. */
  aria(path: string): { 'aria-invalid': boolean; 'aria-describedby': string | undefined } {
    const invalid = this.problemAt(path) !== null;
    return { 'aria-invalid': invalid, 'aria-describedby': invalid ? problemId(path) : undefined };
  }

  /** Whether the draft differs from the saved setup. */
  get dirty(): boolean {
    return this.saved !== null && canonical(this.draft) !== canonical(this.saved.setup);
  }

  /** Loads the setup from the relay; the draft starts over from it. */
  async load(): Promise<void> {
    this.problem = null;
    try {
      const saved = await automationSetup();
      this.saved = saved;
      this.draft = copy(saved.setup);
      this.conflict = false;
      this.preview = null;
    } catch (raw) {
      this.problem = IpcError.from(raw).message;
    } finally {
      this.loading = false;
    }
  }

  /**
   * Loads the setup when the tab is shown again, unless the draft holds unsaved changes: those
   * stay, over the version they started from (saving them over a newer one is refused as a
   * conflict, which says to reload).
   */
  async refresh(): Promise<void> {
    if (this.dirty) return;
    await this.load();
  }

  /** Drops the draft's changes. */
  revert(): void {
    if (this.saved) this.draft = copy(this.saved.setup);
  }

  /** Saves the draft over the version loaded; a refusal says why (a conflict: reload). */
  async save(): Promise<boolean> {
    this.problem = null;
    this.notice = null;
    const saved = this.saved;
    if (!saved) return false;
    const problems = this.problems;
    if (problems.length) {
      this.problem = `Fix ${problems.length === 1 ? 'the field marked' : `the ${problems.length} fields marked`} below first: ${problems[0].message}`;
      return false;
    }
    const setup = copy(this.draft);
    this.saving = true;
    try {
      const version = await saveAutomationSetup(saved.version, setup);
      this.saved = { version, setup, saved_at: Date.now(), saved_by: null };
      this.notice = 'Saved. The relay runs these rules from now on.';
      return true;
    } catch (raw) {
      // The shell maps the relay's 409 `version_conflict` to the code `conflict`.
      const error = IpcError.from(raw);
      this.conflict = error.code === 'conflict';
      this.problem = this.conflict ? CONFLICT : error.message;
      return false;
    } finally {
      this.saving = false;
    }
  }

  /** Replays the last 7 days through the draft (nothing is saved or sent). */
  async runPreview(): Promise<void> {
    this.problem = null;
    this.previewing = true;
    try {
      this.preview = await previewAutomation(copy(this.draft));
    } catch (raw) {
      this.problem = IpcError.from(raw).message;
    } finally {
      this.previewing = false;
    }
  }

  /** Turns business hours on (weekdays 9 to 5 in this computer's zone) or off (always open). */
  setHours(on: boolean): void {
    this.draft.hours = on ? officeHours(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC') : null;
  }

  /** Adds a team (its id made up, its name to fill in). */
  addTeam(): void {
    const id = freshId('team', this.draft.teams.map((t) => t.id));
    this.draft.teams.push({ id, name: '', members: [], assignment: 'round_robin', hours: null, first_response_minutes: null });
  }

  /** Removes team `index` and the channel defaults that pointed at it. */
  removeTeam(index: number): void {
    const [gone] = this.draft.teams.splice(index, 1);
    for (const [channel, team] of Object.entries(this.draft.channel_teams)) {
      if (team === gone?.id) delete this.draft.channel_teams[channel];
    }
  }

  /** Turns the satisfaction survey on (the starter texts) or off. */
  setCsat(on: boolean): void {
    this.draft.csat = on ? starterCsat() : null;
  }

  /** Turns the menu on (one option to the first team) or off. */
  setMenu(on: boolean): void {
    this.draft.menu = on ? starterMenu(this.draft.teams[0]?.id ?? '') : null;
  }

  /** Adds a menu option routing to the first team. */
  addOption(): void {
    const menu = this.draft.menu;
    if (!menu) return;
    menu.options.push({ id: freshId('option', menu.options.map((o) => o.id)), title: '', team: this.draft.teams[0]?.id ?? '' });
  }

  /** Moves menu option `index` by `step` (-1 up, 1 down), if it can go there. */
  moveOption(index: number, step: -1 | 1): void {
    const options = this.draft.menu?.options;
    const to = index + step;
    if (!options || to < 0 || to >= options.length) return;
    const [option] = options.splice(index, 1);
    options.splice(to, 0, option);
  }
}
