//! Talking to the person or script at the other end: reading secrets, printing times and JSON.

use std::io::{BufRead, IsTerminal, Write};

use zentro_core::vault::Secret;

use crate::exit::{Exit, Failure, fail, other};

/// A password or token from standard input (prompted for on a terminal).
pub fn read_password() -> Result<Secret, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        return Err(fail(Exit::Usage, "no password on standard input"));
    }
    Ok(Secret::new(password))
}

/// A timestamp in milliseconds as UTC minutes, the way every listing shows times.
pub fn time(ms: i64) -> String {
    zentro_core::utc::UtcTime::from_ms(ms).minutes()
}

/// `value` as pretty JSON on standard output (the `--json` of every listing).
pub fn print_json(value: &impl serde::Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(other)?;
    println!("{text}");
    Ok(())
}

/// `rows` as pretty JSON (`json`, the `--json` of every listing), or as a table: the `header`
/// line, then `line` of each row.
pub fn print_rows<T: serde::Serialize>(
    rows: Vec<T>,
    json: bool,
    header: &str,
    line: impl Fn(T) -> String,
) -> Result<(), Failure> {
    if json {
        return print_json(&rows);
    }
    println!("{header}");
    for row in rows {
        println!("{}", line(row));
    }
    Ok(())
}
