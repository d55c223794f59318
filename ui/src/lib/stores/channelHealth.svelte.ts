// The channels the signed-in member uses that Meta no longer serves well, shown as warnings above
// the inbox. Asked at most every CHECK_EVERY_MS (inbox changes come in bursts). No DOM.
import { channels as loadChannels, type ChannelInfo } from '../ipc';

/** The least time between two checks that are not forced. */
export const CHECK_EVERY_MS = 20_000;

export class ChannelHealth {
  /** Channels this member may use that are disconnected or need attention. */
  problems = $state<ChannelInfo[]>([]);
  #checkedAt = 0;

  /** Checks again, unless checked less than CHECK_EVERY_MS ago; `force` after a sign-in. Signed out: none. */
  async check(signedIn: boolean, force = false): Promise<void> {
    if (!signedIn) {
      this.problems = [];
      return;
    }
    if (!force && Date.now() - this.#checkedAt < CHECK_EVERY_MS) return;
    this.#checkedAt = Date.now();
    try {
      const found = await loadChannels();
      this.problems = (Array.isArray(found) ? found : []).filter(
        (c) => c.allowed && (c.health === 'disconnected' || c.health === 'attention'),
      );
    } catch {
      // Offline: keep what was shown.
    }
  }
}

/** A channel's name for people: its display name, else its kind and number (or id). */
export function channelName(c: ChannelInfo): string {
  return c.display_name || `${c.kind} ${c.phone_number ?? c.external_id}`;
}
