//! `fake-azdo serve [--org NAME]... [--repo ORG/PROJECT/REPO]... [--pat ORG:USER:SCOPE]...`
//!
//! Starts the fake on a loopback port, prints its URL, each repo's clone URL and each PAT it
//! created (they are fake), then serves until stdin closes or the process is killed.
//! SCOPE may list several scopes separated by commas. PATs are valid for 30 days.
//!
//! While serving, it reads commands from stdin, one a line: `counts` prints
//! `counts connectionData=N git=N challenge=N other=N` (requests served so far, by route) and
//! `reset` zeroes the counters and prints `reset`. Other lines are ignored.

use std::io::BufRead;
use std::process::ExitCode;

use fake_azdo::Route;

const USAGE: &str = "usage: fake-azdo serve [--org NAME]... [--repo ORG/PROJECT/REPO]... [--pat ORG:USER:SCOPE]...";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fake-azdo: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err("missing command".into());
    };
    if cmd != "serve" {
        return Err(format!("unknown command {cmd:?}"));
    }
    let (mut orgs, mut repos, mut pats) = (Vec::new(), Vec::new(), Vec::new());
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?.clone();
        match flag.as_str() {
            "--org" => orgs.push(value),
            "--repo" => {
                let parts: Vec<&str> = value.split('/').collect();
                let [org, project, repo] = parts.as_slice() else {
                    return Err(format!("--repo {value:?}: expected ORG/PROJECT/REPO"));
                };
                repos.push((org.to_string(), project.to_string(), repo.to_string()));
            }
            "--pat" => {
                let parts: Vec<&str> = value.splitn(3, ':').collect();
                let [org, user, scope] = parts.as_slice() else {
                    return Err(format!("--pat {value:?}: expected ORG:USER:SCOPE"));
                };
                pats.push((org.to_string(), user.to_string(), scope.to_string()));
            }
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }

    let fake = fake_azdo::FakeAzdo::start();
    println!("url {}", fake.url());
    for org in &orgs {
        fake.add_org(org);
    }
    for (org, project, repo) in &repos {
        fake.add_repo(org, project, repo);
        println!("repo {}", fake.repo_url(org, project, repo));
    }
    let valid_to =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
            + 30 * 86_400;
    for (org, user, scope) in &pats {
        let scopes: Vec<&str> = scope.split(',').map(str::trim).collect();
        let pat = fake.add_pat(org, user, &scopes, valid_to);
        println!("pat {org} {user} {scope} {}", pat.token);
    }
    eprintln!("fake-azdo: serving until stdin closes");
    // Serve until stdin reaches its end (or the process is killed), answering commands meanwhile.
    for line in std::io::stdin().lock().split(b'\n') {
        let Ok(line) = line else { break };
        match line.trim_ascii() {
            b"counts" => println!(
                "counts connectionData={} git={} challenge={} other={}",
                fake.count(Route::ConnectionData),
                fake.count(Route::Git),
                fake.count(Route::Challenge),
                fake.count(Route::Other)
            ),
            b"reset" => {
                fake.reset_counts();
                println!("reset");
            }
            _ => {}
        }
    }
    Ok(())
}
