// The automation's types and commands (Team → Automation, presence, the inbox's teams and SLA
// marks) until they are generated into ipc/bindings.ts and wrapped in ipc/index.ts; then this file
// goes and its importers take the same names from ../ipc. The types are the JSON of
// crates/automation/src/setup.rs (`Setup`) and of the desk's automation commands.
import { invoke } from '@tauri-apps/api/core';
import { IpcError, type ConversationFilter, type ConversationSummary } from './ipc';

/** How a team's new conversations find a member. */
export type Assignment = 'manual' | 'round_robin' | 'least_busy';

/** An open span of a day, `HH:MM` to a later `HH:MM` (up to `24:00`), in the hours' time zone. */
export type Span = { start: string; end: string };

/** Weekly hours in a named time zone (seven days, Monday first), with holidays (`YYYY-MM-DD`). */
export type Hours = { time_zone: string; weekly: Span[][]; holidays: string[] };

/** A text with versions per language code and per channel kind. */
export type Texts = { text: string; by_language?: Record<string, string>; by_channel?: Record<string, string> };

/** A team (department): its members, in round-robin order, and how it assigns. */
export type AutomationTeam = {
  id: string;
  name: string;
  members: string[];
  assignment: Assignment;
  hours: Hours | null;
  first_response_minutes: number | null;
};

/** A menu choice: what the customer taps and the team it routes to. */
export type MenuOption = { id: string; title: string; team: string };

/** The menu bot asking which team. */
export type Menu = { prompt: Texts; options: MenuOption[]; retry: Texts; handoff: Texts | null; button: string };

/** The workspace's automation (crates/automation/src/setup.rs `Setup`). */
export type Setup = {
  enabled: boolean;
  hours: Hours | null;
  teams: AutomationTeam[];
  capacities: Record<string, number>;
  channel_teams: Record<string, string>;
  greeting: Texts | null;
  away: Texts | null;
  menu: Menu | null;
  agent_keywords: string[];
  hand_back_after_minutes: number | null;
};

/** The setup as the relay keeps it: `version` 0 when never saved. */
export type SavedSetup = { version: number; setup: Setup; saved_at: number | null; saved_by: string | null };

/** One automated message the preview says would have gone out. */
export type PreviewMessage = { rule: string; text: string; at: number };

/** What the rules would have done to one conversation of the last 7 days. */
export type PreviewConversation = {
  conversation_id: number;
  contact_name: string;
  channel_kind: string;
  team: string | null;
  assignee: string | null;
  messages: PreviewMessage[];
};

/** The preview: the last 7 days of the cache replayed through a draft setup. */
export type AutomationPreview = {
  conversations: PreviewConversation[];
  totals: { routed: number; assigned: number; messages: number };
};

/** The status a member sets. */
export type PresenceStatus = 'available' | 'away';

/** A member's presence: what they set, and what it is in effect (offline: no desk seen lately). */
export type MemberPresence = {
  member_id: string;
  status: PresenceStatus;
  presence: PresenceStatus | 'offline';
  last_seen_at: number | null;
};

/** A conversation in the list, with its team and first-response mark. */
export type ConversationRow = ConversationSummary & {
  team_id?: string | null;
  first_response_due_at?: number | null;
  sla?: 'due_soon' | 'breached' | null;
};

/** What the list asks the cache for, with the team filter. */
export type ConversationQuery = ConversationFilter & { team?: string | null };

/** Whether a failed save was refused because someone else saved first (the relay's 409). */
export function isConflict(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { code?: unknown }).code === 'conflict';
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (raw) {
    // A conflict keeps its code (ErrorCode has none for it yet), so the store can reload.
    if (isConflict(raw)) throw raw;
    throw IpcError.from(raw);
  }
}

/** The workspace's automation setup and its version. */
export function automationSetup(): Promise<SavedSetup> {
  return call('automation_setup');
}

/** Saves the setup over `expectedVersion` (admins); the new version. Someone else's save first is a conflict. */
export function saveAutomationSetup(expectedVersion: number, setup: Setup): Promise<number> {
  return call('save_automation_setup', { expectedVersion, setup });
}

/** Replays the last 7 days of this desk's cache through `setup`: what would have happened. */
export function previewAutomation(setup: Setup): Promise<AutomationPreview> {
  return call('preview_automation', { setup });
}

/** Sets this member's status (available or away). */
export function setPresence(status: PresenceStatus): Promise<string> {
  return call('set_presence', { status });
}

/** Every member's presence. */
export function presence(): Promise<MemberPresence[]> {
  return call('presence');
}
