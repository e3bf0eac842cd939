//! A DNS server on loopback for the production-path tests: it answers `A` queries for the
//! sandbox's host names with 127.0.0.1, `AAAA` for them with no address, anything else with
//! NXDOMAIN, over UDP, and records every name asked. Inside the private network namespace
//! (sandbox.rs, `isolated_with_dns`) `/etc/resolv.conf` points at it and `/etc/hosts` names none
//! of the hosts, so git and the helper reach the fake only by resolving names through DNS.

use std::net::UdpSocket;
use std::sync::{Arc, Mutex};

/// The names asked so far, in order, lower-cased, with their query type (1: A, 28: AAAA).
#[derive(Clone, Default)]
pub struct Queries(Arc<Mutex<Vec<(String, u16)>>>);

impl Queries {
    /// How many queries asked for `name`, of any type.
    pub fn count(&self, name: &str) -> usize {
        self.0.lock().expect("queries").iter().filter(|(n, _)| n == name).count()
    }
}

/// Serve on `addr` (a loopback address with port 53 in the sandbox) for the rest of the process.
pub fn serve(addr: &str, names: Vec<String>) -> Queries {
    let socket = UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind the test DNS server on {addr}: {e}"));
    let queries = Queries::default();
    let seen = queries.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf) else { continue };
            if let Some((reply, name, qtype)) = answer(&buf[..len], &names) {
                seen.0.lock().expect("queries").push((name, qtype));
                let _ = socket.send_to(&reply, peer);
            }
        }
    });
    queries
}

/// The reply to one query, the name it asked and its type; `None` for what is not a query.
fn answer(query: &[u8], names: &[String]) -> Option<(Vec<u8>, String, u16)> {
    if query.len() < 12 || query[2] & 0x80 != 0 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    // The question: labels up to the root, then type and class.
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question_end = at + 4;
    query.get(..question_end)?;
    let name = labels.join(".");
    let known = names.iter().any(|n| n.eq_ignore_ascii_case(&name));
    let mut reply = Vec::with_capacity(question_end + 16);
    reply.extend_from_slice(&query[..2]); // the id
    let recursion_desired = query[2] & 0x01;
    reply.push(0x84 | recursion_desired); // a response, authoritative
    reply.push(if known { 0x80 } else { 0x83 }); // recursion available; NOERROR or NXDOMAIN
    let answers: u16 = if known && qtype == 1 { 1 } else { 0 };
    reply.extend_from_slice(&[0, 1]);
    reply.extend_from_slice(&answers.to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(&query[12..question_end]);
    if answers == 1 {
        // A pointer to the question's name, A, IN, a minute, 127.0.0.1.
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    }
    Some((reply, name, qtype))
}
