// Pure formatting helpers (unit tested in format.test.ts).

/** "14:05" today, "Mon" this week, else "12 Mar". */
export function listTime(ms: number, now = Date.now()): string {
  const date = new Date(ms);
  const today = new Date(now);
  if (date.toDateString() === today.toDateString()) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  if (now - ms < 6 * 24 * 3600 * 1000 && ms <= now) {
    return date.toLocaleDateString([], { weekday: 'short' });
  }
  return date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

/** "23h 12m" / "12m" / "40s" until `until`. */
export function countdown(until: number, now = Date.now()): string {
  const seconds = Math.max(0, Math.floor((until - now) / 1000));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m`;
  return `${seconds}s`;
}

/** A search snippet ("…the [invoice] is…") as parts, marked where FTS marked a match. */
export function snippetParts(snippet: string): { text: string; mark: boolean }[] {
  const parts: { text: string; mark: boolean }[] = [];
  const pattern = /\[([^\]]*)\]/g;
  let last = 0;
  for (let match = pattern.exec(snippet); match; match = pattern.exec(snippet)) {
    if (match.index > last) parts.push({ text: snippet.slice(last, match.index), mark: false });
    parts.push({ text: match[1], mark: true });
    last = match.index + match[0].length;
  }
  if (last < snippet.length) parts.push({ text: snippet.slice(last), mark: false });
  return parts;
}

/** Text split into plain runs and http(s) links. */
export function linkParts(text: string): { text: string; href: string | null }[] {
  const parts: { text: string; href: string | null }[] = [];
  const pattern = /https?:\/\/[^\s<>"')]+/gi;
  let last = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    // Punctuation right after a link ends the sentence, not the link.
    const href = match[0].replace(/[.,;:!?]+$/, '');
    if (match.index > last) parts.push({ text: text.slice(last, match.index), href: null });
    parts.push({ text: href, href });
    last = match.index + href.length;
    pattern.lastIndex = last;
  }
  if (last < text.length) parts.push({ text: text.slice(last), href: null });
  return parts;
}

/** The short label of a channel kind. */
export function channelLabel(kind: string): string {
  return kind === 'whatsapp' ? 'WhatsApp' : kind === 'instagram' ? 'Instagram' : kind === 'messenger' ? 'Messenger' : kind;
}

/** A date and time in the user's locale, for tables (members, devices, the audit log). */
export function formatTime(ms: number | null): string {
  if (ms === null) return '';
  return new Date(ms).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** A size for people: "812 B", "4.2 MB" (decimal units, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * A duration in seconds for people, to two units at most: "45s", "12m", "3h 5m", "2d 4h"; "—"
 * where there is nothing to measure (null).
 */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours}h ${minutes % 60}m` : `${hours}h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days}d ${hours % 24}h` : `${days}d`;
}
