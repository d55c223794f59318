use std::time::Duration;

use zentro_relay::store::now_ms;

use crate::support::*;

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

#[tokio::test]
async fn acknowledged_events_go_after_the_grace_and_unacknowledged_ones_after_the_retention() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    let laptop = relay.sign_in("owner@acme.test").await;
    let _closed_laptop = relay.sign_in("owner@acme.test").await;
    for i in 0..4 {
        relay
            .post_signed(
                wa_text("P1", &format!("wamid.{i}"), "x")
                    .to_string()
                    .as_bytes(),
            )
            .await;
    }
    relay.acknowledge(&laptop, 4).await;
    let now = now_ms();

    // One device has not acknowledged: nothing goes before the retention period.
    assert_eq!(
        relay
            .store()
            .prune(now + 2 * 3_600_000, HOUR, 30 * DAY)
            .await
            .unwrap(),
        0
    );
    assert_eq!(relay.events(&laptop, 0).await.len(), 4);
    // After 30 days, even unacknowledged events go.
    assert_eq!(
        relay
            .store()
            .prune(now + 31 * 86_400_000, HOUR, 30 * DAY)
            .await
            .unwrap(),
        4
    );
}

#[tokio::test]
async fn events_every_device_has_are_pruned_after_the_grace_period() {
    let relay = TestRelay::start().await;
    relay.workspace("Acme", "owner@acme.test", "P1").await;
    let a = relay.sign_in("owner@acme.test").await;
    let b = relay.sign_in("owner@acme.test").await;
    for i in 0..3 {
        relay
            .post_signed(
                wa_text("P1", &format!("wamid.{i}"), "x")
                    .to_string()
                    .as_bytes(),
            )
            .await;
    }
    for (token, seq) in [(&a, 3), (&b, 2)] {
        relay.acknowledge(token, seq).await;
    }
    let now = now_ms();
    assert_eq!(
        relay
            .store()
            .prune(now + 60_000, HOUR, 30 * DAY)
            .await
            .unwrap(),
        0,
        "still within the grace period"
    );
    assert_eq!(
        relay
            .store()
            .prune(now + 2 * 3_600_000, HOUR, 30 * DAY)
            .await
            .unwrap(),
        2,
        "seq 1 and 2 are on every device"
    );
    let left: Vec<i64> = relay
        .events(&a, 0)
        .await
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(left, [3]);
}
