//! Git smart HTTP: authentication and scope checks in front of the real `git http-backend`,
//! run as a CGI with the request body streamed in and its output streamed back.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdout, Stdio};

use crate::azdo::{self, basic_challenge, cae_challenge_headers, challenge_headers, id_headers, EXPIRED_MESSAGE};
use crate::http::{self, Body, Request, Response};
use crate::server::{GitEndpoint, Outcome};
use crate::util::{percent_encode, query_param};
use crate::{git_command, key, Auth, Shared};

pub(crate) struct GitTarget {
    pub org: String,
    pub project: String,
    pub repo: String,
    pub endpoint: GitEndpoint,
}

/// Scopes that allow fetching, and pushing (`app_token`, full access, allows both).
const READ_SCOPES: &[&str] = &["vso.code", "vso.code_write", "vso.code_full"];
const WRITE_SCOPES: &[&str] = &["vso.code_write", "vso.code_full"];

pub(crate) fn serve(
    shared: &Shared,
    req: &Request,
    body: &mut Body,
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    target: &GitTarget,
) -> Outcome {
    let push = match target.endpoint {
        GitEndpoint::ReceivePack => true,
        GitEndpoint::UploadPack => false,
        GitEndpoint::InfoRefs => query_param(&req.query, "service").as_deref() == Some("git-receive-pack"),
    };
    let scheme = match req.header("Authorization").and_then(|a| a.split_whitespace().next()) {
        Some(s) if s.eq_ignore_ascii_case("basic") => "Basic",
        Some(s) if s.eq_ignore_ascii_case("bearer") => "Bearer",
        Some(_) => "other",
        None => "none",
    };
    shared.state().ids.git_auth.push(scheme.to_string());
    let st = shared.state();
    let Some(org) = st.org(&target.org) else {
        drop(st);
        return Outcome::Respond(azdo::unknown_org(shared, req, &target.org));
    };
    let auth = st.authenticate(&target.org, req.header("Authorization"));
    let wanted = if push { WRITE_SCOPES } else { READ_SCOPES };
    let remote_user = match &auth {
        Auth::Valid { user, .. } if auth.has_scope(wanted) => Some(user.clone()),
        // Public projects: anyone may fetch without credentials.
        Auth::Anonymous if org.public && !push => None,
        Auth::Anonymous => {
            let resp = Response::new(401).headers(id_headers(shared, req)).headers(challenge_headers(&st, org));
            return Outcome::Respond(resp);
        }
        Auth::Expired => {
            let resp = Response::new(401)
                .headers(id_headers(shared, req))
                .headers([basic_challenge()])
                .header("X-TFS-ServiceError", percent_encode(EXPIRED_MESSAGE));
            return Outcome::Respond(resp);
        }
        Auth::GlobalRetired => {
            let resp = Response::new(401)
                .headers(id_headers(shared, req))
                .headers([basic_challenge()])
                .header("X-TFS-ServiceError", percent_encode(azdo::GLOBAL_PAT_RETIRED_MESSAGE));
            return Outcome::Respond(resp);
        }
        Auth::Challenged(claims) => {
            let resp = Response::new(401).headers(id_headers(shared, req)).headers(cae_challenge_headers(&st, claims));
            return Outcome::Respond(resp);
        }
        // Bad credentials, an expired Entra token, or a PAT without the scope this operation
        // needs.
        Auth::Bad | Auth::ExpiredToken | Auth::Valid { .. } => {
            let resp = Response::new(401).headers(id_headers(shared, req)).headers([basic_challenge()]);
            return Outcome::Respond(resp);
        }
    };
    let repo_key = (key(&target.org), key(&target.project), key(&target.repo));
    let Some(repo_path) = st.repos.get(&repo_key).cloned() else {
        drop(st);
        let message = format!(
            "TF401019: The Git repository with name or identifier {} does not exist or you do not have permissions for the operation you are attempting.",
            target.repo
        );
        let resp = Response::new(404)
            .headers(id_headers(shared, req))
            .header("X-TFS-ServiceError", percent_encode(&message))
            .body("text/plain; charset=utf-8", message);
        return Outcome::Respond(resp);
    };
    drop(st);
    let mut extra = id_headers(shared, req);
    if let Some(user) = &remote_user {
        extra.push(("X-VSS-UserData".to_string(), format!("{}:{}", user.id, user.upn)));
    }
    let tail = match target.endpoint {
        GitEndpoint::InfoRefs => "info/refs",
        GitEndpoint::UploadPack => "git-upload-pack",
        GitEndpoint::ReceivePack => "git-receive-pack",
    };
    let cgi =
        Cgi { path_info: format!("{repo_path}/{tail}"), remote_user: remote_user.map(|u| u.upn), extra_headers: extra };
    run_cgi(shared, req, body, reader, writer, &cgi)
}

struct Cgi {
    path_info: String,
    remote_user: Option<String>,
    extra_headers: Vec<(String, String)>,
}

fn run_cgi(
    shared: &Shared,
    req: &Request,
    body: &mut Body,
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    cgi: &Cgi,
) -> Outcome {
    let mut cmd = git_command(shared);
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", &shared.repos_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", if req.http11 { "HTTP/1.1" } else { "HTTP/1.0" })
        .env("SERVER_SOFTWARE", "fake-azdo")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", &cgi.path_info)
        .env("QUERY_STRING", &req.query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("FAKE_AZDO_DEBUG").is_some() { Stdio::inherit() } else { Stdio::null() });
    if let Some(user) = &cgi.remote_user {
        cmd.env("REMOTE_USER", user).env("AUTH_TYPE", "Basic");
    }
    if let Some(v) = req.header("Content-Type") {
        cmd.env("CONTENT_TYPE", v);
    }
    // With a chunked body CONTENT_LENGTH stays unset: http-backend then reads to end of input.
    if req.header("Transfer-Encoding").is_none() {
        if let Some(v) = req.header("Content-Length") {
            cmd.env("CONTENT_LENGTH", v.trim());
        }
    }
    if let Some(v) = req.header("Git-Protocol") {
        cmd.env("GIT_PROTOCOL", v);
    }
    if let Some(v) = req.header("Content-Encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", v);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let resp = Response::new(500)
                .headers(cgi.extra_headers.clone())
                .body("text/plain; charset=utf-8", format!("cannot run git http-backend: {e}\n"));
            return Outcome::Respond(resp);
        }
    };
    if !body.is_done() && req.expects_continue() && http::write_continue(writer).is_err() {
        kill(&mut child);
        return Outcome::Drop;
    }
    let stdin = child.stdin.take();
    let Some(stdout) = child.stdout.take() else {
        kill(&mut child);
        return Outcome::Drop;
    };
    let head_only = req.method == "HEAD";
    let (relayed, body_done) = std::thread::scope(|s| {
        let pump = s.spawn(move || pump_body(body, reader, stdin));
        let relayed = relay_output(stdout, writer, req, &cgi.extra_headers, head_only);
        if relayed.is_err() {
            // The client is gone or the output was broken: stop git so the pump ends too.
            let _ = child.kill();
        }
        (relayed, pump.join().unwrap_or(false))
    });
    let _ = child.wait();
    match relayed {
        Ok(Relayed::Done { keep_alive }) => {
            Outcome::Streamed { keep_alive: keep_alive && body_done && req.keep_alive() }
        }
        Ok(Relayed::NoHeaders) => {
            let resp = Response::new(502)
                .headers(cgi.extra_headers.clone())
                .body("text/plain; charset=utf-8", "git http-backend sent no response\n");
            let _ = http::write_response(writer, &resp, head_only, false);
            Outcome::Streamed { keep_alive: false }
        }
        Err(_) => Outcome::Drop,
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Copies the request body into the CGI's stdin; once git stops reading, the rest is discarded.
/// Returns whether the body was read to its end (so the connection can be reused).
fn pump_body(body: &mut Body, reader: &mut BufReader<TcpStream>, stdin: Option<std::process::ChildStdin>) -> bool {
    let mut stdin = stdin;
    let mut r = body.reader(reader);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                if let Some(w) = stdin.as_mut() {
                    if w.write_all(&buf[..n]).is_err() {
                        stdin = None;
                    }
                }
            }
            Err(_) => return false,
        }
    }
}

enum Relayed {
    Done { keep_alive: bool },
    NoHeaders,
}

/// Parses the CGI response head (`Status:` and headers) and streams the body to the client.
fn relay_output(
    stdout: ChildStdout,
    writer: &mut TcpStream,
    req: &Request,
    extra_headers: &[(String, String)],
    head_only: bool,
) -> io::Result<Relayed> {
    let mut out = BufReader::with_capacity(64 * 1024, stdout);
    let mut status = 200u16;
    let mut headers = extra_headers.to_vec();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line)? == 0 {
            return Ok(Relayed::NoHeaders);
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("Status") {
            status = v.split(' ').next().and_then(|s| s.parse().ok()).unwrap_or(500);
        } else if !k.eq_ignore_ascii_case("Content-Length") {
            headers.push((k.to_string(), v.to_string()));
        }
    }
    let keep_alive = req.keep_alive();
    let chunked = http::write_streaming_head(writer, status, &headers, req.http11, keep_alive)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = out.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if head_only {
            continue;
        }
        if chunked {
            http::write_chunk(writer, &buf[..n])?;
        } else {
            writer.write_all(&buf[..n])?;
        }
    }
    if chunked && !head_only {
        http::write_last_chunk(writer)?;
    } else {
        writer.flush()?;
    }
    Ok(Relayed::Done { keep_alive: keep_alive && req.http11 })
}
