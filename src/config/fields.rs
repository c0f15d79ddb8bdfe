//! Checks of single config fields that serde cannot express by type: each names the field's
//! rule in its error.

use std::net::SocketAddr;

use serde::Deserialize;

pub(super) fn room_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(serde::de::Error::custom(format!(
            "room name \"{name}\" must be 1-64 letters, digits, '-', '_' or '.' (it is the SIP user name)"
        )));
    }
    Ok(name)
}

pub(super) fn socket_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(|_| {
        serde::de::Error::custom(format!("\"{text}\" is not an address and port: use e.g. \"0.0.0.0:5060\""))
    })
}

pub(super) fn optional_socket_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    socket_addr(d).map(Some)
}

pub(super) fn log_level<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let level = String::deserialize(d)?;
    match level.as_str() {
        "error" | "warn" | "info" | "debug" | "trace" => Ok(level),
        _ => Err(serde::de::Error::custom(format!(
            "unknown log level \"{level}\": use error, warn, info, debug or trace"
        ))),
    }
}
