//! What fills a WhatsApp template's variables (issue 24): each body variable (`{{1}}`, `{{2}}`…)
//! names a contact field and a fallback for when the contact has no value, so a template sent to
//! a customer whose name is unknown reads "Hi there" rather than "Hi ". The relay keeps the
//! choice with the template; the relay's automation and the desks fill variables the same way.

use serde::{Deserialize, Serialize};

/// The longest fallback text.
pub const MAX_FALLBACK: usize = 60;

/// A contact field a variable can take its value from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum ContactField {
    /// The first word of the customer's name.
    FirstName,
    /// The customer's whole name.
    Name,
    /// The customer's phone number.
    Phone,
    /// No field: always the fallback text.
    Fixed,
}

/// Where one variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TemplateVariable {
    /// The contact field.
    pub field: ContactField,
    /// The text used when the contact has no value for it (or always, for `fixed`).
    pub fallback: String,
}

/// What is known of the customer a template goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFacts {
    /// Their name, as they gave it or an agent set it.
    pub name: Option<String>,
    /// Their phone number.
    pub phone: Option<String>,
}

/// A variable setting Meta would refuse to send or that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariableError {
    /// The template's body has a different number of variables.
    #[error("the body has {expected} variable(s) but {given} were described")]
    Count {
        /// Variables in the body.
        expected: usize,
        /// Variables described.
        given: usize,
    },
    /// A fallback is empty, too long, or has what Meta refuses in a parameter.
    #[error(
        "variable {{{{{0}}}}}: the fallback must have 1 to 60 characters, without new lines, tabs or more than 4 spaces in a row"
    )]
    Fallback(usize),
}

/// Whether a parameter's text is one Meta accepts (132018 otherwise): not empty, no new line or
/// tab, at most four spaces in a row.
pub fn acceptable_parameter(text: &str) -> bool {
    !text.trim().is_empty() && !text.contains(['\n', '\r', '\t']) && !text.contains("     ")
}

/// Checks variables described for a body with `expected` of them.
pub fn check_variables(
    variables: &[TemplateVariable],
    expected: usize,
) -> Result<(), VariableError> {
    if variables.len() != expected {
        return Err(VariableError::Count {
            expected,
            given: variables.len(),
        });
    }
    for (i, v) in variables.iter().enumerate() {
        if v.fallback.chars().count() > MAX_FALLBACK || !acceptable_parameter(&v.fallback) {
            return Err(VariableError::Fallback(i + 1));
        }
    }
    Ok(())
}

/// The values of the variables for a contact: each field's value when the contact has one Meta
/// accepts, its fallback otherwise.
pub fn fill(variables: &[TemplateVariable], contact: &ContactFacts) -> Vec<String> {
    variables
        .iter()
        .map(|v| {
            let value = match v.field {
                ContactField::FirstName => contact
                    .name
                    .as_deref()
                    .and_then(|n| n.split_whitespace().next())
                    .map(str::to_string),
                ContactField::Name => contact.name.as_deref().map(|n| n.trim().to_string()),
                ContactField::Phone => contact
                    .phone
                    .as_ref()
                    .map(|p| format!("+{}", p.trim_start_matches('+'))),
                ContactField::Fixed => None,
            };
            value
                .filter(|t| acceptable_parameter(t))
                .unwrap_or_else(|| v.fallback.clone())
        })
        .collect()
}

/// The variables a template gets when nobody chose: each the customer's first name, falling back
/// to "there" for the first and "-" for the others.
pub fn default_variables(count: usize) -> Vec<TemplateVariable> {
    (0..count)
        .map(|i| TemplateVariable {
            field: if i == 0 {
                ContactField::FirstName
            } else {
                ContactField::Fixed
            },
            fallback: if i == 0 { "there".into() } else { "-".into() },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_name() -> TemplateVariable {
        TemplateVariable {
            field: ContactField::FirstName,
            fallback: "there".into(),
        }
    }

    #[test]
    fn a_missing_or_unsendable_value_falls_back() {
        let vars = [first_name()];
        let named = ContactFacts {
            name: Some("Ana María".into()),
            phone: None,
        };
        assert_eq!(fill(&vars, &named), ["Ana"]);
        assert_eq!(fill(&vars, &ContactFacts::default()), ["there"]);
        let blank = ContactFacts {
            name: Some("   ".into()),
            phone: None,
        };
        assert_eq!(fill(&vars, &blank), ["there"]);
    }

    #[test]
    fn variables_are_checked_against_the_body_and_metas_rules() {
        assert!(check_variables(&[first_name()], 1).is_ok());
        assert_eq!(
            check_variables(&[first_name()], 2),
            Err(VariableError::Count {
                expected: 2,
                given: 1
            })
        );
        let bad = TemplateVariable {
            field: ContactField::Fixed,
            fallback: "a\nb".into(),
        };
        assert_eq!(check_variables(&[bad], 1), Err(VariableError::Fallback(1)));
    }
}
