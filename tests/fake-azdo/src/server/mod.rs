//! Accept loop, per-connection request loop, routing and fault injection.
//! Routing by host and path is in `route.rs`.

mod route;

use std::io::{BufReader, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::http::{self, Body, Request, Response};
use crate::{azdo, entra, git, pats, Fault, Shared};

use route::route;
pub(crate) use route::{host_name, EntraEndpoint, GitEndpoint, PatOp, Target};

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
    let target = route(&req.method, &req.path, &req.query, req.header("Host"));
    shared.count(target.route());
    shared.count_host(req.header("Host").map(host_name).unwrap_or_default());
    let fault = match &target {
        Target::ConnectionData { .. } | Target::Api { .. } | Target::Pats { .. } => Some(shared.state().fault.clone()),
        Target::Git { .. } => Some(shared.state().git_fault.clone()),
        Target::Entra { .. } => Some(shared.state().entra.fault.clone()),
        Target::ManagedIdentity { .. } => Some(shared.state().mi_fault.clone()),
        Target::GithubIdToken | Target::PipelinesOidc { .. } => None,
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
        Target::Pats { org, op: Some(op) } => {
            let bytes = match read_body(req, body, reader, writer) {
                Ok(b) => b,
                Err(outcome) => return outcome,
            };
            Outcome::Respond(pats::handle(shared, req, &org, op, &bytes))
        }
        Target::Pats { op: None, .. } => {
            let message = format!("The requested resource does not support http method '{}'.", req.method);
            Outcome::Respond(
                Response::new(405)
                    .headers(azdo::api_headers(shared, req))
                    .header("Allow", "GET, POST, PUT, DELETE")
                    .body(azdo::JSON, format!("{{\"message\":{}}}", crate::util::json_str(&message))),
            )
        }
        Target::Entra { tenant, endpoint: EntraEndpoint::Authorize } => {
            Outcome::Respond(entra::authorize(shared, req, &tenant, &req.query))
        }
        Target::Entra { tenant, endpoint } => {
            let bytes = match read_body(req, body, reader, writer) {
                Ok(b) => b,
                Err(outcome) => return outcome,
            };
            // A body that is not a form has none of the form's parameters.
            let form_type = req
                .header("Content-Type")
                .is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
            let form = if form_type { String::from_utf8_lossy(&bytes).into_owned() } else { String::new() };
            Outcome::Respond(match endpoint {
                EntraEndpoint::DeviceCode => entra::device_code(shared, req, &tenant, &form),
                EntraEndpoint::Token | EntraEndpoint::Authorize => entra::token(shared, req, &tenant, &form),
            })
        }
        Target::GithubIdToken => Outcome::Respond(crate::identity::github_id_token(shared, req)),
        Target::PipelinesOidc { org } => Outcome::Respond(crate::identity::pipelines_oidc(shared, req, &org)),
        Target::ManagedIdentity { app_service: false } => Outcome::Respond(crate::identity::imds(shared, req)),
        Target::ManagedIdentity { app_service: true } => Outcome::Respond(crate::identity::app_service(shared, req)),
        Target::Other => Outcome::Respond(azdo::not_found(shared, req)),
    }
}

/// Most a JSON or form request body may hold.
const MAX_BODY: u64 = 1 << 20;

/// Reads a whole (small) request body, answering `100 Continue` first if the client waits for
/// it. `Err`: what to do instead (413 for a body too large, drop on a broken connection).
fn read_body(
    req: &Request,
    body: &mut Body,
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<Vec<u8>, Outcome> {
    if body.is_done() {
        return Ok(Vec::new());
    }
    if req.expects_continue() && http::write_continue(writer).is_err() {
        return Err(Outcome::Drop);
    }
    let mut bytes = Vec::new();
    if body.reader(reader).take(MAX_BODY + 1).read_to_end(&mut bytes).is_err() {
        return Err(Outcome::Drop);
    }
    if bytes.len() as u64 > MAX_BODY {
        let resp = Response::new(413).body("text/plain; charset=utf-8", "Request body too large.\n");
        return Err(Outcome::Respond(resp));
    }
    Ok(bytes)
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
        Fault::Status(status) if matches!(target, Target::Entra { .. }) => {
            Some(Outcome::Respond(entra::fault_status(req, status)))
        }
        Fault::Throttle { retry_after_secs } if matches!(target, Target::Entra { .. }) => {
            Some(Outcome::Respond(entra::throttled(req, retry_after_secs)))
        }
        Fault::Garbage if matches!(target, Target::Entra { .. }) => Some(Outcome::Respond(entra::garbage(req))),
        Fault::Status(status) => Some(Outcome::Respond(azdo::fault_status(shared, req, target, status))),
        Fault::Throttle { retry_after_secs } => Some(Outcome::Respond(azdo::throttled(shared, req, retry_after_secs))),
        Fault::Garbage => Some(Outcome::Respond(azdo::garbage(shared, req, target))),
    }
}
