//! Files shared with Meta by link, as the database keeps them (PostgreSQL: every instance serves
//! them).

/// A shared file: what `/shared/{token}/{name}` serves until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFile {
    /// The unguessable part of its address.
    pub token: String,
    /// The workspace that shared it (its quota).
    pub workspace_id: String,
    /// Its name, as cleaned when it was shared.
    pub name: String,
    /// Its type, as given when it was shared.
    pub mime: String,
    /// Its bytes.
    pub body: Vec<u8>,
    /// When it was shared (UTC ms).
    pub created_at: i64,
    /// When it stops being served (UTC ms).
    pub expires_at: i64,
}

/// What a workspace's live shared files take: how many, how many bytes, and when the first of
/// them expires (UTC ms; `None` when there are none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SharedUsage {
    /// Files not yet expired.
    pub count: i64,
    /// Their bytes.
    pub bytes: i64,
    /// The earliest expiry among them.
    pub first_expiry: Option<i64>,
}
