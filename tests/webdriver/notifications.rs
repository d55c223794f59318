//! OS notifications: a message in your conversation pops one up, and clicking it opens that
//! conversation in the window. The notification server is a stand-in on the test's private D-Bus
//! session (`org.freedesktop.Notifications`, as GNOME and KDE provide it): it records what the app
//! shows and reports a click the way a desktop does (`ActionInvoked` with `default`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{Connection, OwnedVariant, interface};

use crate::ui::{
    click, open_row, open_row_named, open_row_other_than, sandbox_session, send_reply, wait_for,
    wait_for_count,
};

/// A notification an app showed: id, summary, body, actions, the showing process.
type Shown = (u32, String, String, Vec<String>, Option<u32>);

struct NotificationServer {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[interface(name = "org.freedesktop.Notifications")]
impl NotificationServer {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, OwnedVariant>,
        _expire_timeout: i32,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> u32 {
        // Other tests' apps share the session bus: remember which process asked.
        let pid = match (header.sender(), zbus::fdo::DBusProxy::new(connection).await) {
            (Some(sender), Ok(bus)) => bus
                .get_connection_unix_process_id(sender.clone().into())
                .await
                .ok(),
            _ => None,
        };
        let mut shown = self.shown.lock().unwrap();
        let id = shown.len() as u32 + 1;
        shown.push((id, summary, body, actions, pid));
        id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["actions".into(), "body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "stand-in".into(),
            "zentro-tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }

    async fn close_notification(
        &self,
        id: u32,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        Self::notification_closed(&emitter, id, 3).await?;
        Ok(())
    }

    #[zbus(signal)]
    async fn action_invoked(
        emitter: &SignalEmitter<'_>,
        id: u32,
        action_key: &str,
    ) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn notification_closed(
        emitter: &SignalEmitter<'_>,
        id: u32,
        reason: u32,
    ) -> zbus::Result<()>;
}

const PATH: &str = "/org/freedesktop/Notifications";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clicking_a_notification_opens_its_conversation() {
    let shown = Arc::new(Mutex::new(Vec::<Shown>::new()));
    let server = zbus::connection::Builder::session()
        .name("org.freedesktop.Notifications")
        .serve_at(
            PATH,
            NotificationServer {
                shown: shown.clone(),
            },
        )
        .build()
        .await
        .expect("the stand-in notification server on the session bus");

    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_string_lossy().into_owned();
    let session = sandbox_session(data.path(), &[]).await;
    let client = &session.client;

    // Ana's conversation is mine; I reply, then look at another one while she answers.
    let mine = open_row(client, 0).await;
    click(client, "[data-testid=assign-me]").await;
    wait_for_count(client, "the assignment", "[data-testid=unassign]", 1).await;
    let mut notification = None;
    // A customer answers with a message three times in four (else with a reaction, which
    // notifies nobody): reply until one answers with a message.
    for attempt in 0..6 {
        if attempt > 0 {
            open_row_named(client, &mine).await;
        }
        send_reply(client, "Checking on it now.").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let elsewhere = open_row_other_than(client, &mine).await;
        assert_ne!(elsewhere, mine);
        let deadline = std::time::Instant::now() + Duration::from_secs(12);
        while std::time::Instant::now() < deadline {
            let found = shown
                .lock()
                .unwrap()
                .iter()
                .find(|(_, summary, _, _, pid)| {
                    *summary == mine && pid.is_some_and(|p| runs_on(p, &data_dir))
                })
                .cloned();
            if found.is_some() {
                notification = found;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if notification.is_some() {
            break;
        }
    }
    let (id, _, body, actions, _) =
        notification.expect("a notification for the answer in my conversation");
    assert!(!body.is_empty());
    assert!(
        actions.chunks(2).any(|a| a[0] == "default"),
        "a click is offered: {actions:?}"
    );

    // The desktop reports the click: the window shows Ana's conversation.
    let emitter = SignalEmitter::new(&server, PATH).unwrap();
    NotificationServer::action_invoked(&emitter, id, "default")
        .await
        .unwrap();
    wait_for("the notification's conversation", || async {
        crate::ui::text(client, "[data-testid=conversation-title]").await == mine
    })
    .await;
    session.close().await.unwrap();
    drop::<Connection>(server);
}

/// Whether process `pid` is an app started on `data_dir`.
fn runs_on(pid: u32, data_dir: &str) -> bool {
    let wanted = format!("ZENTRO_DATA_DIR={data_dir}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|var| var == wanted.as_bytes()))
        .unwrap_or(false)
}
