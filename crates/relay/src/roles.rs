//! Who may do what: the roles and permissions (shared with desks, in `zentro_events::roles`) and
//! the permission each device event needs.

pub use zentro_events::roles::{Permission, Role};

/// The permission a device's event needs: restricting a customer's processing (or lifting it) is
/// an admin's decision (privacy promise P14), as the app shows, and so is recording consent
/// collected by a form or imported (opting customers in wholesale); every other team event
/// (recording what a customer told a member about their consent, assigning,
/// statuses, notes, labels, editing and linking contacts, canned replies) and announcing a sent
/// reply are part of answering.
pub fn permission_for(event: &zentro_events::DeviceEvent) -> Permission {
    match event {
        zentro_events::DeviceEvent::Team(team)
            if team.restricts() || team.records_collected_consent() =>
        {
            Permission::ManageData
        }
        _ => Permission::Answer,
    }
}
