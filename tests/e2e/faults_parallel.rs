//! 50 parallel `store`/`get`/`erase` across 10 organizations, on the file store and on a real
//! Secret Service: every outcome is accounted for by some serialization of the operations, and
//! no organization ever sees another's PAT. Every helper run here is bounded in time
//! (tests/common/bounded.rs): a hang fails the test instead of hanging it, and no run may panic.

use std::collections::BTreeSet;
use std::sync::Barrier;

use crate::common::bounded::{assert_no_panic, assert_one_line_error, helper_bounded, LIMIT};
use crate::common::faults::{answered, read_store, request, store_ok, store_request, temp_files};
use crate::common::{Run, TestEnv};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Store(String),
    Get,
    /// With the password git would send, or none.
    Erase(Option<String>),
}

type State = Option<String>;

/// The effect of one operation on an organization's entry, as the helper documents it.
fn apply(state: &State, op: &Op) -> State {
    match op {
        Op::Store(pat) => Some(pat.clone()),
        Op::Get => state.clone(),
        Op::Erase(None) => None,
        Op::Erase(Some(pat)) if state.as_ref() == Some(pat) => None,
        Op::Erase(Some(_)) => state.clone(),
    }
}

/// Every state of every serialization of `mutations` from `state` (`seen`), and every final one
/// (`finals`). A mutation that failed may or may not have taken effect, so it may be skipped.
fn explore(state: &State, mutations: &[(Op, bool)], seen: &mut BTreeSet<State>, finals: &mut BTreeSet<State>) {
    seen.insert(state.clone());
    if mutations.is_empty() {
        finals.insert(state.clone());
    }
    for (i, (op, ok)) in mutations.iter().enumerate() {
        let mut rest = mutations.to_vec();
        rest.remove(i);
        explore(&apply(state, op), &rest, seen, finals);
        if !ok {
            explore(state, &rest, seen, finals);
        }
    }
}

struct Plan {
    org: String,
    initial: State,
    ops: Vec<Op>,
}

/// Ten organizations, five operations each, chosen so that every serialization ends the same
/// way when all succeed. PATs name their organization, so one seen elsewhere is a leak.
fn plans() -> Vec<Plan> {
    (0..10)
        .map(|k| {
            let org = format!("org{k}");
            let pat = |what: &str| format!("{what}-pat-of-{org}");
            let (initial, ops) = match k % 4 {
                // Added twice, read, and a stale erase that must not remove it: ends stored.
                0 => (
                    None,
                    vec![Op::Store(pat("new")), Op::Store(pat("new")), Op::Get, Op::Get, Op::Erase(Some(pat("stale")))],
                ),
                // Erased three ways: ends absent.
                1 => (
                    Some(pat("old")),
                    vec![Op::Erase(Some(pat("old"))), Op::Erase(None), Op::Get, Op::Get, Op::Erase(Some(pat("old")))],
                ),
                // Confirmed again (a metadata write) while read: never absent, ends stored.
                2 => (
                    Some(pat("old")),
                    vec![Op::Store(pat("old")), Op::Erase(Some(pat("stale"))), Op::Get, Op::Get, Op::Get],
                ),
                // Replaced while the old one is erased: the erase of the old PAT must never take
                // the new one with it, whatever the order. Ends with the new one.
                _ => (
                    Some(pat("old")),
                    vec![Op::Store(pat("new")), Op::Store(pat("new")), Op::Erase(Some(pat("old"))), Op::Get, Op::Get],
                ),
            };
            Plan { org, initial, ops }
        })
        .collect()
}

fn op_input(org: &str, op: &Op) -> (&'static str, Vec<u8>) {
    match op {
        Op::Store(pat) => ("store", store_request(org, pat)),
        Op::Get => ("get", request(org, "")),
        Op::Erase(Some(pat)) => ("erase", store_request(org, pat)),
        Op::Erase(None) => ("erase", request(org, "")),
    }
}

/// Run all 50 operations at once and check every outcome against the serializations.
/// `final_state` reads an organization's entry after the run, straight from the store.
fn fifty_in_parallel(env: &TestEnv, final_state: &dyn Fn(&str) -> State) -> usize {
    let plans = plans();
    for plan in &plans {
        if let Some(pat) = &plan.initial {
            store_ok(env, &plan.org, pat);
        }
    }
    let all: Vec<(usize, Op)> =
        plans.iter().enumerate().flat_map(|(i, p)| p.ops.iter().map(move |op| (i, op.clone()))).collect();
    assert_eq!(all.len(), 50);
    let barrier = Barrier::new(all.len());
    let results: Vec<(usize, Op, Run)> = std::thread::scope(|s| {
        let handles: Vec<_> = all
            .iter()
            .map(|(i, op)| {
                let (barrier, plans) = (&barrier, &plans);
                s.spawn(move || {
                    let org = &plans[*i].org;
                    let (verb, input) = op_input(org, op);
                    barrier.wait();
                    let (run, _) = helper_bounded(env, &[verb], &input, LIMIT);
                    (*i, op.clone(), run)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });

    let mut failures = 0;
    for (i, plan) in plans.iter().enumerate() {
        let mine: Vec<&(usize, Op, Run)> = results.iter().filter(|(j, _, _)| *j == i).collect();
        let mut mutations = Vec::new();
        for (_, op, run) in &mine {
            let what = format!("{} {op:?}", plan.org);
            assert_no_panic(run, &what);
            let ok = run.status == 0;
            if ok {
                assert_eq!(run.stderr, "", "{what}: {run:?}");
            } else {
                failures += 1;
                assert_one_line_error(run, &what);
                eprintln!("{what} failed: {}", run.stderr.trim_end());
            }
            if *op != Op::Get {
                mutations.push((op.clone(), ok));
            }
        }
        let (mut seen, mut finals) = (BTreeSet::new(), BTreeSet::new());
        explore(&plan.initial, &mutations, &mut seen, &mut finals);
        // A get that failed (with one clear line, checked above) answers nothing.
        for (_, op, run) in mine.iter().filter(|(_, op, run)| *op == Op::Get && run.status == 0) {
            let got = answered(run);
            assert!(seen.contains(&got), "{} {op:?} answered {got:?}, possible: {seen:?}", plan.org);
            if got.is_some() {
                assert!(run.stdout.starts_with(&format!("username={}\n", plan.org)), "{}: {run:?}", plan.org);
            }
        }
        let last = final_state(&plan.org);
        assert!(finals.contains(&last), "{}: ends with {last:?}, accounted for: {finals:?}", plan.org);
        // And the helper's own view agrees with the store's.
        let (run, _) = helper_bounded(env, &["get"], &request(&plan.org, ""), LIMIT);
        assert_eq!((answered(&run), run.status), (last, 0), "{}: {run:?}", plan.org);
    }

    // `list` shows exactly the organizations that have a PAT.
    let (run, _) = helper_bounded(env, &["list", "--json"], b"", LIMIT);
    assert_eq!(run.status, 0, "{run:?}");
    let listed: serde_json::Value = serde_json::from_str(&run.stdout).expect("list --json");
    let listed: BTreeSet<String> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|o| o["organization"].as_str().expect("organization").to_owned())
        .collect();
    let stored: BTreeSet<String> =
        plans.iter().filter(|p| final_state(&p.org).is_some()).map(|p| p.org.clone()).collect();
    assert_eq!(listed, stored, "list disagrees with the store");
    failures
}

#[test]
fn fifty_parallel_operations_on_the_file_store_are_all_accounted_for() {
    let env = TestEnv::new();
    let path = env.store_file();
    let orgs: BTreeSet<String> = plans().into_iter().map(|p| p.org).collect();
    let final_state = |org: &str| -> State {
        let doc = read_store(&path);
        for (name, entry) in doc["organizations"].as_object().expect("orgs") {
            assert!(orgs.contains(name), "unknown organization {name} in {doc}");
            let pat = entry["pat"].as_str().expect("pat");
            assert!(pat.ends_with(&format!("-pat-of-{name}")), "{name} holds another organization's PAT: {pat}");
        }
        doc["organizations"][org]["pat"].as_str().map(str::to_owned)
    };
    let failures = fifty_in_parallel(&env, &final_state);
    assert_eq!(failures, 0, "on the file store every operation must succeed");
    assert!(temp_files(path.parent().expect("dir")).is_empty(), "temp files left without any kill");
}

#[cfg(target_os = "linux")] // a real Secret Service
#[test]
fn fifty_parallel_operations_on_the_secret_service_are_all_accounted_for() {
    if crate::common::skipped_under(
        "qemu",
        "fifty emulated helpers at once, each with its Diffie-Hellman exchange, outrun the 30 s limit per run",
    ) {
        return;
    }
    let Some(env) = TestEnv::with_keyring() else {
        return;
    };
    let ss = env.secret_service.as_ref().expect("secret service");
    let final_state = |org: &str| -> State {
        // Straight from the Secret Service: at most one item, and it is this organization's.
        let service = format!("git-credential-azdo:https://dev.azure.com/{org}");
        let run = ss.secret_tool(&["search", "--all", "service", &service]);
        let items = run.stdout.lines().filter(|l| l.starts_with('[')).count();
        assert!(items <= 1, "{org}: {items} items in the keyring: {run:?}");
        // secret-tool prints the attributes on stderr.
        let user = run.stderr.lines().find_map(|l| l.strip_prefix("attribute.username = "));
        let secret = run.stdout.lines().find_map(|l| l.strip_prefix("secret = ")).map(str::to_owned);
        if let Some(secret) = &secret {
            assert_eq!(user, Some(org), "{org}: {run:?}");
            assert!(secret.ends_with(&format!("-pat-of-{org}")), "{org} holds another organization's PAT: {secret}");
        }
        secret
    };
    let failures = fifty_in_parallel(&env, &final_state);
    eprintln!("Secret Service: {failures} of 50 operations failed (each with one clear line)");
}
