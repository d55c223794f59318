//! Leases: background work that runs on one relay instance at a time, taken over when its holder dies.
