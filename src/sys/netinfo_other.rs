//! Unix systems other than Linux: the doctor reads no port owners or
//! neighbour tables there, and says so.

use std::net::Ipv4Addr;

use super::Holder;

/// Not told on this system.
///
/// # Errors
/// Always: the system has no `/proc` to read.
pub fn port_holders(_port: u16, _tcp: bool) -> Result<Vec<Holder>, String> {
    Err("this system does not tell which program holds a port".into())
}

/// Not read on this system.
pub fn neighbour_known(_ip: Ipv4Addr) -> Option<bool> {
    None
}

/// Not read on this system.
pub fn default_route_interfaces() -> Vec<String> {
    Vec::new()
}

/// Adapter descriptions exist on Windows only.
pub fn adapter_descriptions() -> Vec<(String, String)> {
    Vec::new()
}
