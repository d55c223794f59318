//! Per-channel access: what of the log a member may read, and which tokens a member's devices hold.
