//! Who may do what: the roles and permissions (shared with desks, in `zentro_events::roles`) and
//! the permission each device event needs.

pub use zentro_events::roles::{Permission, Role};

/// The permission a device's event needs: restricting a customer's processing (or lifting it) is
/// an admin's decision (privacy promise P14), as the app shows; every other team event (assigning,
/// statuses, notes, labels, editing and linking contacts, canned replies) and announcing a sent
/// reply are part of answering.
pub fn permission_for(event: &zentro_events::DeviceEvent) -> Permission {
    match event {
        zentro_events::DeviceEvent::Team(team) if team.restricts() => Permission::ManageData,
        _ => Permission::Answer,
    }
}
