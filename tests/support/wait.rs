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
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}
