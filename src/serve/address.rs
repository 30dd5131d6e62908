//! What `--serve ADDR` (`runner watch --addr ADDR`) accepts: `PORT` (on 127.0.0.1), `IP:PORT`, `[IPv6]:PORT` or
//! `localhost:PORT`. Host names other than localhost are refused rather than looked
//! up, so serving never needs a name server.

use crate::error::{Error, Result};
use std::net::{Ipv4Addr, SocketAddr};

/// `flag` is the option the address was given with, for the message.
pub fn parse_address(flag: &str, text: &str) -> Result<SocketAddr> {
    let t = text.trim();
    if let Ok(port) = t.parse::<u16>() {
        return Ok((Ipv4Addr::LOCALHOST, port).into());
    }
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = t.strip_prefix("localhost:").and_then(|p| p.parse::<u16>().ok()) {
        return Ok((Ipv4Addr::LOCALHOST, port).into());
    }
    Err(Error::Usage(format!(
        "{flag} {text:?}: not an address; give PORT or HOST:PORT, e.g. 8097, 127.0.0.1:0 (a free port), [::1]:8097 \
         or 0.0.0.0:8097 (every interface)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_addresses_are_read_and_the_rest_refused() {
        assert_eq!(parse_address("--serve", "8097").unwrap(), "127.0.0.1:8097".parse().unwrap());
        assert_eq!(parse_address("--serve", "0").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(parse_address("--serve", "127.0.0.1:0").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(parse_address("--serve", "localhost:80").unwrap(), "127.0.0.1:80".parse().unwrap());
        assert_eq!(parse_address("--serve", "[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        assert_eq!(parse_address("--serve", "0.0.0.0:1").unwrap(), "0.0.0.0:1".parse().unwrap());
        for bad in ["", "65536", "-1", "example.com:80", "127.0.0.1", "127.0.0.1:", "x.toml", ":80"] {
            let e = parse_address("--serve", bad).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("not an address"), "{bad}: {e}");
        }
        // `runner watch` takes the address as `--addr`: the message names that flag.
        let e = parse_address("--addr", "abc").unwrap_err().to_string();
        assert!(e.starts_with("--addr \"abc\": not an address; give PORT or HOST:PORT"), "{e}");
    }
}
