//! Privacy promise P4 after the fact: the permissions Meta granted a token (`debug_token`'s
//! `scopes` and `granular_scopes`) compared with what we asked for.
//!
//! What we ask for is one list, [`REQUESTED_PERMISSIONS`]; each login flow's configuration asks
//! for its part of it ([`LoginFlow::requested`]). Meta's dialog lets the person signing in
//! untick permissions, and a configuration edited in the App Dashboard can ask for more, so the
//! grant may differ either way:
//! - **extra**: granted but not in [`REQUESTED_PERMISSIONS`] — more than we promised to ask for
//!   (a P4 violation to fix in the configuration);
//! - **missing**: asked for by the flow but not granted — something will not work until the owner
//!   grants it.
//!
//! `public_profile`, which Facebook Login grants every app unasked, is never an extra.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::platform::REQUESTED_PERMISSIONS;

/// What Facebook Login grants every app without being asked; never counted as an extra.
pub const IMPLICIT_PERMISSIONS: [&str; 1] = ["public_profile"];

/// A way of connecting channels, each with its own login configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFlow {
    /// WhatsApp Embedded Signup.
    WhatsAppSignup,
    /// Facebook Login for Business for Pages (Messenger) and their Instagram accounts.
    PagesLogin,
}

impl LoginFlow {
    /// The permissions of [`REQUESTED_PERMISSIONS`] this flow's configuration asks for.
    pub fn requested(self) -> Vec<&'static str> {
        REQUESTED_PERMISSIONS
            .iter()
            .copied()
            .filter(|p| {
                *p == "business_management"
                    || match self {
                        Self::WhatsAppSignup => p.starts_with("whatsapp_"),
                        Self::PagesLogin => p.starts_with("pages_") || p.starts_with("instagram_"),
                    }
            })
            .collect()
    }
}

/// How a grant differs from what was asked for. Both lists are sorted; both empty: exactly
/// what was asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionCheck {
    /// Granted but never asked for (a P4 violation).
    pub extra: Vec<String>,
    /// Asked for but not granted (the owner must grant them).
    pub missing: Vec<String>,
}

/// The longest permission name kept; Meta's are far shorter.
const MAX_NAME: usize = 64;

/// A permission name as Meta writes them (`a-z`, `0-9`, `_`), whatever the answer held, so that
/// what is logged and shown stays a name.
fn clean(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(MAX_NAME)
        .collect::<String>()
        .to_ascii_lowercase()
}

impl PermissionCheck {
    /// Compares the permissions `granted` (names as Meta reports them) with what `flow` asked for.
    pub fn compare<'a>(flow: LoginFlow, granted: impl IntoIterator<Item = &'a str>) -> Self {
        let granted: BTreeSet<String> = granted
            .into_iter()
            .map(clean)
            .filter(|p| !p.is_empty())
            .collect();
        let extra = granted
            .iter()
            .filter(|p| {
                !REQUESTED_PERMISSIONS.contains(&p.as_str())
                    && !IMPLICIT_PERMISSIONS.contains(&p.as_str())
            })
            .cloned()
            .collect();
        let mut missing: Vec<String> = flow
            .requested()
            .into_iter()
            .filter(|p| !granted.contains(*p))
            .map(String::from)
            .collect();
        missing.sort();
        Self { extra, missing }
    }

    /// Whether the grant is exactly what was asked for.
    pub fn is_exact(&self) -> bool {
        self.extra.is_empty() && self.missing.is_empty()
    }

    /// A sentence for the owner when the grant differs, `None` when it is exact.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.extra.is_empty() {
            parts.push(format!(
                "Meta granted permissions Zentro Desk does not ask for ({}): remove them from the Meta app's login configuration (privacy promise P4).",
                self.extra.join(", ")
            ));
        }
        if !self.missing.is_empty() {
            parts.push(format!(
                "Meta did not grant {} ({}): what needs them will not work until you connect again and allow them.",
                if self.missing.len() == 1 {
                    "a permission Zentro Desk needs"
                } else {
                    "permissions Zentro Desk needs"
                },
                self.missing.join(", ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flows_split_the_one_requested_list_between_them() {
        let whatsapp = LoginFlow::WhatsAppSignup.requested();
        let pages = LoginFlow::PagesLogin.requested();
        assert_eq!(
            whatsapp,
            [
                "whatsapp_business_messaging",
                "whatsapp_business_management",
                "business_management"
            ]
        );
        assert_eq!(
            pages,
            [
                "pages_messaging",
                "pages_show_list",
                "instagram_basic",
                "instagram_manage_messages",
                "business_management"
            ]
        );
        for p in REQUESTED_PERMISSIONS {
            assert!(
                whatsapp.contains(&p) || pages.contains(&p),
                "{p} is asked for"
            );
        }
    }

    #[test]
    fn an_exact_grant_differs_in_nothing() {
        let check = PermissionCheck::compare(
            LoginFlow::WhatsAppSignup,
            LoginFlow::WhatsAppSignup.requested(),
        );
        assert!(check.is_exact());
        assert_eq!(check.describe(), None);
        // Facebook Login's own public_profile is not an extra; a permission listed twice counts once.
        let mut granted = LoginFlow::PagesLogin.requested();
        granted.extend(["public_profile", "pages_messaging"]);
        assert!(PermissionCheck::compare(LoginFlow::PagesLogin, granted).is_exact());
    }

    #[test]
    fn extra_and_missing_permissions_are_named() {
        let granted = [
            "whatsapp_business_management",
            "business_management",
            "ads_management",
            "user_messenger_contact",
        ];
        let check = PermissionCheck::compare(LoginFlow::WhatsAppSignup, granted);
        assert_eq!(check.extra, ["ads_management", "user_messenger_contact"]);
        assert_eq!(check.missing, ["whatsapp_business_messaging"]);
        let said = check.describe().unwrap();
        assert!(said.contains("ads_management, user_messenger_contact") && said.contains("P4"));
        assert!(said.contains("whatsapp_business_messaging"));
        // A permission of the other flow, still on the one list, is not an extra.
        let mut granted = LoginFlow::WhatsAppSignup.requested();
        granted.push("pages_messaging");
        assert!(PermissionCheck::compare(LoginFlow::WhatsAppSignup, granted).is_exact());
    }

    #[test]
    fn a_tokens_scopes_and_granular_scopes_both_count() {
        let info = crate::graph::TokenInfo {
            app_id: "1".into(),
            is_valid: true,
            expires_at: 0,
            scopes: vec![
                "whatsapp_business_management".into(),
                "business_management".into(),
            ],
            granular_scopes: vec![("whatsapp_business_messaging".into(), vec!["7".into()])],
            user_id: None,
        };
        assert!(info.check_permissions(LoginFlow::WhatsAppSignup).is_exact());
        let info = crate::graph::TokenInfo {
            granular_scopes: vec![],
            ..info
        };
        assert_eq!(
            info.check_permissions(LoginFlow::WhatsAppSignup).missing,
            ["whatsapp_business_messaging"]
        );
    }

    #[test]
    fn names_from_the_answer_stay_names() {
        let check = PermissionCheck::compare(
            LoginFlow::PagesLogin,
            ["Ads_Management\n<script>", &"x".repeat(500)],
        );
        assert_eq!(check.extra, ["ads_managementscript", &"x".repeat(64)]);
    }
}
