//! Whose connection reached the sign-in listener. On Linux the kernel's socket table
//! (`/proc/net/tcp{,6}`) names the owner of the client end of a loopback connection: a
//! connection is this user's only when the table shows a process of this user holding it; one of
//! another user, or one whose owner cannot be told (a client that sent its request and closed or
//! reset its end, so its entry is gone or held by no process), is not. Without a readable table
//! the listener is not started. Elsewhere every connection is taken as this user's.

use std::net::SocketAddr;

use super::Error;

/// Whether the process at the other end of a connection to the listener on `port` runs as this
/// user. A redirect another local user sends (with a code for their own account, or `error=`)
/// must not be redeemed, nor may they be sent on to the authorize URL (with its `state`). On
/// Linux the kernel's socket table says who owns the client's socket, and a connection whose
/// owner it does not show (the client reset or closed its end, its entry is gone or is no longer
/// a process's) is refused. Elsewhere the connection is taken.
pub(super) fn same_user(peer: SocketAddr, port: u16) -> bool {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::process::geteuid().as_raw();
        let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(|p| std::fs::read_to_string(p).unwrap_or_default());
        socket_owner(&tables, peer, port) == Some(me)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (peer, port);
        true
    }
}

/// On Linux, whether the kernel's socket table can be read: without it no connection's owner can
/// be told, and the sign-in would wait for a redirect it must refuse. The browser sign-in is then
/// not offered (the next way to sign in runs).
pub(super) fn owners_can_be_told() -> Result<(), Error> {
    #[cfg(target_os = "linux")]
    if let Err(e) = std::fs::read_to_string("/proc/net/tcp") {
        return Err(Error::Listen(std::io::Error::new(
            e.kind(),
            format!("cannot tell whose connections reach it: /proc/net/tcp: {e}"),
        )));
    }
    Ok(())
}

/// The owner of the client socket `peer` connected to loopback `port`, from the text of
/// `/proc/net/tcp` and `/proc/net/tcp6` (addresses in the kernel's hex form). `None` when the
/// socket is not there, or is no process's any more (inode 0: closed by its process, or a
/// `TIME_WAIT` entry, whose uid the kernel shows as 0).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn socket_owner(tables: &[String], peer: SocketAddr, port: u16) -> Option<u32> {
    let words = |bytes: &[u8]| -> String {
        bytes.chunks(4).map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))).collect()
    };
    // The client's own address as the table shows it: IPv4 in `tcp`; IPv6, or IPv4-mapped from a
    // dual-stack socket, in `tcp6`.
    let forms: Vec<String> = match peer.ip() {
        std::net::IpAddr::V4(ip) => vec![words(&ip.octets()), words(&ip.to_ipv6_mapped().octets())],
        std::net::IpAddr::V6(ip) => vec![words(&ip.octets())],
    };
    let local = forms.iter().map(|f| format!("{f}:{:04X}", peer.port())).collect::<Vec<_>>();
    let remote_port = format!(":{port:04X}");
    tables.iter().flat_map(|t| t.lines().skip(1)).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (l, r, uid, inode) = (fields.get(1)?, fields.get(2)?, fields.get(7)?, fields.get(9)?);
        let held = inode.parse::<u64>().is_ok_and(|i| i != 0);
        (local.iter().any(|f| f == l) && r.ends_with(&remote_port) && held).then(|| uid.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    use super::super::Listener;
    use super::*;
    #[cfg(target_os = "linux")]
    use std::io::Write;
    #[cfg(target_os = "linux")]
    use std::net::{TcpListener, TcpStream};
    #[cfg(target_os = "linux")]
    use std::time::{Duration, Instant};

    #[cfg(target_os = "linux")]
    const AUTHORIZE: &str = "https://login.example/organizations/oauth2/v2.0/authorize?state=st&code_challenge=ch";

    #[test]
    fn the_socket_table_names_the_owner_of_the_client_end() {
        let table =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:A9F4 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000\n\
   1: 0100007F:1F90 0100007F:A9F4 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000\n"
                .to_owned();
        let peer: SocketAddr = "127.0.0.1:43508".parse().expect("addr"); // 0xA9F4
        assert_eq!(socket_owner(&[table.clone(), String::new()], peer, 0x1F90), Some(1000));
        assert_eq!(socket_owner(&[table, String::new()], peer, 0x1F91), None, "another listener's client");
        let mapped = "  sl  local_address rem_address st\n\
   0: 0000000000000000FFFF00000100007F:A9F4 0000000000000000FFFF00000100007F:1F90 01 0:0 0:0 0 4242 0 3\n"
            .to_owned();
        assert_eq!(socket_owner(&[String::new(), mapped], peer, 0x1F90), Some(4242), "a dual-stack client");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_connection_of_this_user_is_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let _client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (_server, peer) = listener.accept().expect("accept");
        let tables = ["/proc/net/tcp", "/proc/net/tcp6"].map(|p| std::fs::read_to_string(p).unwrap_or_default());
        assert_eq!(socket_owner(&tables, peer, port), Some(rustix::process::geteuid().as_raw()));
        assert!(same_user(peer, port));
    }

    #[test]
    fn a_socket_no_process_holds_has_no_owner() {
        // A TIME_WAIT entry (the kernel shows uid 0) or a socket its process closed: inode 0.
        let table =
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:A9F4 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000\n"
                .to_owned();
        let peer: SocketAddr = "127.0.0.1:43508".parse().expect("addr");
        assert_eq!(socket_owner(&[table, String::new()], peer, 0x1F90), None);
    }

    /// A client that sends a redirect and resets its end (SO_LINGER 0) before the listener
    /// accepts is gone from the socket table while its request waits in the accepted socket: its
    /// owner cannot be told, so it is dropped unread, never redeemed. So is one that sent and
    /// closed its end.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_client_that_sent_its_redirect_and_went_away_is_not_redeemed() {
        let listener = Listener::bind().expect("bind");
        let port = listener.port;
        for reset in [true, false] {
            let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            client.write_all(b"GET /?code=stolen&state=s HTTP/1.1\r\nHost: localhost\r\n\r\n").expect("send");
            if reset {
                socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO)).expect("SO_LINGER 0");
            }
            drop(client);
            let got = listener.wait(
                "s",
                AUTHORIZE,
                Instant::now() + Duration::from_millis(500),
                Duration::from_millis(500),
                None,
            );
            assert!(matches!(got, Err(Error::Timeout(_, false))), "reset {reset}: {got:?}");
        }
    }
}
