// What is shown over the inbox: at most one overlay at a time, so two can never be open at once.
// No DOM: App renders the overlay `current` names; each dialog closes through `close`.

/** The overlays over the inbox; 'none' shows the inbox alone. */
export type Overlay = 'none' | 'welcome' | 'search' | 'help' | 'about' | 'canned' | 'team' | 'reports' | 'broadcasts' | 'signIn';
/** The Team dialog's tabs. */
export type TeamSection = 'members' | 'devices' | 'channels' | 'audit' | 'data' | 'automation' | 'workspace';
/** A `zentro://invite` link's relay and code, for the sign-in dialog's join form. */
export type InvitationLink = { relay: string; code: string };

/** Overlays a `zentro://conversation` link closes to show the conversation. */
const CLOSED_BY_A_LINK: readonly Overlay[] = ['search', 'about', 'team', 'reports', 'broadcasts'];

export class Overlays {
  current = $state<Overlay>('none');
  /** The tab the Team dialog opens at. */
  teamSection = $state<TeamSection>('members');
  /** Whether sign-in opens at its join form ("I have an invitation"). */
  invited = $state(false);
  /** The invitation a link brought, filled into the join form. */
  invitation = $state<InvitationLink | null>(null);

  /** Whether any overlay is open. */
  get open(): boolean {
    return this.current !== 'none';
  }

  /** Shows `which` instead of whatever was open. */
  show(which: Exclude<Overlay, 'none'>): void {
    this.current = which;
  }

  /** Shows the Team dialog at tab `section`. */
  showTeam(section: TeamSection): void {
    this.teamSection = section;
    this.current = 'team';
  }

  /** Shows sign-in, at the join form when `invited`, filled from `invitation` when a link brought one. */
  showSignIn(invited: boolean, invitation: InvitationLink | null = this.invitation): void {
    this.invited = invited;
    this.invitation = invitation;
    this.current = 'signIn';
  }

  /** Closes `which` if it is the one open (or whatever is open, without an argument). */
  close(which?: Overlay): void {
    if (which === undefined || this.current === which) this.current = 'none';
  }

  /** Sign-in finished or was cancelled: the next one starts from a plain sign-in form. */
  closeSignIn(): void {
    this.close('signIn');
    this.invited = false;
    this.invitation = null;
  }

  /** A conversation link is being followed: overlays that would hide it close. */
  closeForLink(): void {
    if (CLOSED_BY_A_LINK.includes(this.current)) this.current = 'none';
  }
}
