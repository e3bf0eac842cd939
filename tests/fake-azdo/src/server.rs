//! Accept loop, per-connection request loop, routing and fault injection.

use std::io::{BufReader, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::{self, Body, Request, Response};
use crate::util::percent_decode;
use crate::{azdo, git, Fault, Route, Shared};

/// What a handler did with a request.
pub(crate) enum Outcome {
    /// Send this response.
    Respond(Response),
    /// Close the connection without a response.
    Drop,
    /// The handler wrote the response itself; `keep_alive` says whether the connection may serve
    /// another request.
    Streamed { keep_alive: bool },
}

/// The git smart-HTTP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GitEndpoint {
    InfoRefs,
    UploadPack,
    ReceivePack,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Challenge {
        org: String,
    },
    ConnectionData {
        org: String,
    },
    /// Any other REST API path (`org` is `None` for `/_apis/...`).
    Api {
        org: Option<String>,
    },
    Git {
        org: String,
        project: String,
        repo: String,
        endpoint: GitEndpoint,
    },
    Other,
}

impl Target {
    pub fn route(&self) -> Route {
        match self {
            Target::Challenge { .. } => Route::Challenge,
            Target::ConnectionData { .. } => Route::ConnectionData,
            Target::Git { .. } => Route::Git,
            Target::Api { .. } | Target::Other => Route::Other,
        }
    }
}

/// Routes a request by method and (percent-decoded) path; names compare case-insensitively.
pub(crate) fn classify(method: &str, raw_path: &str) -> Target {
    let Some(path) = raw_path.strip_prefix('/') else {
        return Target::Other;
    };
    let segs: Vec<String> = path.split('/').map(percent_decode).collect();
    let seg = |i: usize| segs.get(i).map(String::as_str);
    let is = |i: usize, name: &str| seg(i).is_some_and(|s| s.eq_ignore_ascii_case(name));
    let get_or_head = method == "GET" || method == "HEAD";
    let org = match seg(0) {
        None | Some("") => return Target::Other,
        Some(o) => o.to_string(),
    };
    if is(0, "_apis") {
        return Target::Api { org: None };
    }
    if segs.len() == 1 || (segs.len() == 2 && segs[1].is_empty()) {
        return if get_or_head { Target::Challenge { org } } else { Target::Other };
    }
    if is(1, "_apis") {
        let rest: Vec<&str> = segs[2..].iter().map(String::as_str).collect();
        let connection_data = matches!(rest.as_slice(), [c] | [c, ""] if c.eq_ignore_ascii_case("connectionData"));
        return if connection_data && get_or_head {
            Target::ConnectionData { org }
        } else {
            Target::Api { org: Some(org) }
        };
    }
    if is(2, "_apis") {
        // A project-level REST API (`/{org}/{project}/_apis/...`).
        return Target::Api { org: Some(org) };
    }
    // `/{org}/{project}/_git/{repo}/...`, or `/{org}/_git/{repo}/...` where the project has the
    // repo's name.
    let (project, repo, rest) = if is(2, "_git") && segs.len() >= 5 {
        (segs[1].clone(), segs[3].clone(), &segs[4..])
    } else if is(1, "_git") && segs.len() >= 4 {
        (segs[2].clone(), segs[2].clone(), &segs[3..])
    } else {
        return Target::Other;
    };
    if project.is_empty() || repo.is_empty() {
        return Target::Other;
    }
    let endpoint = match (rest.join("/").as_str(), method) {
        ("info/refs", "GET" | "HEAD") => GitEndpoint::InfoRefs,
        ("git-upload-pack", "POST") => GitEndpoint::UploadPack,
        ("git-receive-pack", "POST") => GitEndpoint::ReceivePack,
        _ => return Target::Other,
    };
    Target::Git { org, project, repo, endpoint }
}

pub(crate) fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    for stream in listener.incoming() {
        if shared.is_stopping() {
            break;
        }
        let Ok(stream) = stream else { continue };
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        let id = shared.register(registered);
        let for_thread = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name("fake-azdo-conn".into()).spawn(move || {
            serve_connection(&for_thread, stream);
            for_thread.unregister(id);
        });
        if spawned.is_err() {
            shared.unregister(id);
        }
    }
}

fn serve_connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        if shared.is_stopping() {
            return;
        }
        let (req, mut body) = match http::read_request(&mut reader) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                let resp = Response::new(400).body("text/plain; charset=utf-8", "Bad Request\n");
                let _ = http::write_response(&mut writer, &resp, false, false);
                linger_close(&writer, &mut reader);
                return;
            }
        };
        match dispatch(shared, &req, &mut body, &mut reader, &mut writer) {
            Outcome::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Outcome::Streamed { keep_alive } => {
                if !keep_alive {
                    linger_close(&writer, &mut reader);
                    return;
                }
            }
            Outcome::Respond(resp) => {
                // A body the handler did not read: drain it unless the client is still waiting
                // for `100 Continue` (then it will not send it, and the connection must close).
                let drained = body.is_done() || (!req.expects_continue() && drain(&mut body, &mut reader));
                let keep_alive = req.keep_alive() && drained;
                let head_only = req.method == "HEAD";
                if http::write_response(&mut writer, &resp, head_only, keep_alive).is_err() {
                    return;
                }
                if !keep_alive {
                    linger_close(&writer, &mut reader);
                    return;
                }
            }
        }
    }
}

/// Reads and discards up to 8 MiB of an unread request body; true if it reached the end.
fn drain(body: &mut Body, reader: &mut BufReader<TcpStream>) -> bool {
    let mut limited = body.reader(reader).take(8 << 20);
    let ok = std::io::copy(&mut limited, &mut std::io::sink()).is_ok();
    ok && body.is_done()
}

/// Closes the sending side, then reads what the client still sends for a moment before closing,
/// so that a response is not lost to a reset caused by unread request bytes.
fn linger_close(writer: &TcpStream, reader: &mut BufReader<TcpStream>) {
    let _ = writer.shutdown(Shutdown::Write);
    let _ = writer.set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < deadline {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn dispatch(
    shared: &Shared,
    req: &Request,
    body: &mut Body,
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Outcome {
    let target = classify(&req.method, &req.path);
    shared.count(target.route());
    let fault = match &target {
        Target::ConnectionData { .. } | Target::Api { .. } => Some(shared.state().fault.clone()),
        Target::Git { .. } => Some(shared.state().git_fault.clone()),
        Target::Challenge { .. } | Target::Other => None,
    };
    if let Some(fault) = fault {
        if let Some(outcome) = apply_fault(shared, req, &target, fault) {
            return outcome;
        }
    }
    match target {
        Target::Challenge { org } => Outcome::Respond(azdo::challenge(shared, req, &org)),
        Target::ConnectionData { org } => Outcome::Respond(azdo::connection_data(shared, req, &org)),
        Target::Api { org } => Outcome::Respond(azdo::api_not_found(shared, req, org.as_deref())),
        Target::Git { org, project, repo, endpoint } => {
            git::serve(shared, req, body, reader, writer, &git::GitTarget { org, project, repo, endpoint })
        }
        Target::Other => Outcome::Respond(azdo::not_found(shared, req)),
    }
}

/// `None`: go on handling the request (no fault, or after the latency).
fn apply_fault(shared: &Shared, req: &Request, target: &Target, fault: Fault) -> Option<Outcome> {
    match fault {
        Fault::None => None,
        Fault::Latency(d) => {
            if shared.sleep(d) {
                None
            } else {
                Some(Outcome::Drop)
            }
        }
        Fault::Drop => Some(Outcome::Drop),
        Fault::Status(status) => Some(Outcome::Respond(azdo::fault_status(shared, req, target, status))),
        Fault::Throttle { retry_after_secs } => Some(Outcome::Respond(azdo::throttled(shared, req, retry_after_secs))),
        Fault::Garbage => Some(Outcome::Respond(azdo::garbage(shared, req, target))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let cd = |o: &str| Target::ConnectionData { org: o.into() };
        assert_eq!(classify("GET", "/contoso/_apis/connectionData"), cd("contoso"));
        assert_eq!(classify("GET", "/Contoso/_APIS/CONNECTIONDATA/"), cd("Contoso"));
        assert_eq!(classify("HEAD", "/contoso/_apis/connectiondata"), cd("contoso"));
        assert_eq!(classify("POST", "/contoso/_apis/connectionData"), Target::Api { org: Some("contoso".into()) });
        assert_eq!(classify("GET", "/contoso/_apis/projects"), Target::Api { org: Some("contoso".into()) });
        assert_eq!(classify("GET", "/_apis/connectionData"), Target::Api { org: None });
        assert_eq!(classify("HEAD", "/contoso"), Target::Challenge { org: "contoso".into() });
        assert_eq!(classify("GET", "/contoso/"), Target::Challenge { org: "contoso".into() });
        assert_eq!(classify("POST", "/contoso"), Target::Other);
        assert_eq!(classify("GET", "/"), Target::Other);
        assert_eq!(classify("GET", "*"), Target::Other);
        assert_eq!(
            classify("POST", "/contoso/My%20Project/_git/repo/git-receive-pack"),
            Target::Git {
                org: "contoso".into(),
                project: "My Project".into(),
                repo: "repo".into(),
                endpoint: GitEndpoint::ReceivePack
            }
        );
        assert_eq!(
            classify("GET", "/contoso/_git/repo/info/refs"),
            Target::Git {
                org: "contoso".into(),
                project: "repo".into(),
                repo: "repo".into(),
                endpoint: GitEndpoint::InfoRefs
            }
        );
        assert_eq!(classify("GET", "/contoso/proj/_git/repo/git-upload-pack"), Target::Other);
        assert_eq!(classify("GET", "/contoso/proj/_git/repo/objects/info/packs"), Target::Other);
    }
}
