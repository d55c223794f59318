//! Members, invitations, devices, the audit log and the workspace itself.
