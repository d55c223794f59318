//! Channels as members manage them: sealed tokens, who may use them, removal and purges, connectors, deletion requests, retention.
