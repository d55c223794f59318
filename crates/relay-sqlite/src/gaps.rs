//! Gaps in a workspace's log (pruned or erased), erasure receipts, and sessions' last use.
