//! Waiting for a condition, as every suite here does.

use std::future::Future;
use std::time::Duration;

/// Checks `check` every `every` until it holds; fails the test, naming `what`, once `timeout`
/// has passed without it.
pub async fn until<F, Fut>(what: &str, timeout: Duration, every: Duration, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    assert!(
        within(timeout, every, check).await,
        "timed out waiting for {what}"
    );
}

/// Checks `check` every `every` until it holds (`true`) or `timeout` has passed (`false`), for a
/// caller that does something else when it did not happen in time.
pub async fn within<F, Fut>(timeout: Duration, every: Duration, check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}
