//! Organizations, their repositories and users, as a test sets them up: private or public,
//! Entra- or MSA-backed, the challenge's authority, and bare repositories with one commit that
//! git http-backend serves.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use crate::{git_command, key, FakeAzdo};

impl FakeAzdo {
    /// Adds a private, Entra-backed org (tenant [`TENANT_ID`](crate::TENANT_ID)). Names compare case-insensitively;
    /// adding an existing org changes nothing.
    pub fn add_org(&self, name: &str) {
        assert!(!name.is_empty() && !name.contains('/') && !name.starts_with('_'), "fake-azdo: bad org name {name:?}");
        self.shared.state().add_org(name);
    }

    /// Makes an org one with public projects: bad or absent credentials get the anonymous
    /// ConnectionData (200), and its repos can be fetched without credentials.
    pub fn set_public(&self, org: &str, public: bool) {
        self.add_org(org);
        let mut st = self.shared.state();
        if let Some(o) = st.orgs.get_mut(&key(org)) {
            o.public = public;
        }
    }

    /// Sets the authority base of the `Bearer authorization_uri=...` challenge (default
    /// [`DEFAULT_AUTHORITY`](crate::DEFAULT_AUTHORITY)).
    pub fn set_authority(&self, url: &str) {
        self.shared.state().authority = url.trim_end_matches('/').to_string();
    }

    /// Creates a bare repo with one commit on `main` (a README.md), served at
    /// `/{org}/{project}/_git/{repo}`, and returns its directory. Adds the org if needed.
    ///
    /// Where git cannot be started at all (no git.exe under Wine), the repo is registered but
    /// not created: everything in front of git (authentication, scopes, faults) answers as
    /// usual, and what would reach `git http-backend` answers 500, as when it cannot start.
    /// Tests that need git check for it themselves.
    pub fn add_repo(&self, org: &str, project: &str, repo: &str) -> PathBuf {
        for name in [project, repo] {
            assert!(
                !name.is_empty()
                    && name != "."
                    && name != ".."
                    && !name.contains(['/', '\\', '\0'])
                    && !name.starts_with('_'),
                "fake-azdo: bad project or repo name {name:?}"
            );
        }
        self.add_org(org);
        let rel = format!("{}/{project}/{repo}.git", key(org));
        let dir = self.shared.repos_root.join(&rel);
        std::fs::create_dir_all(&dir).expect("fake-azdo: create repo dir");
        self.shared.state().repos.insert((key(org), key(project), key(repo)), format!("/{rel}"));
        let git = |args: &[&str], stdin: &str| -> Option<String> {
            let mut cmd = git_command(&self.shared);
            cmd.arg("--git-dir").arg(&dir).args(args);
            cmd.env("GIT_AUTHOR_NAME", "Fake Azure DevOps")
                .env("GIT_AUTHOR_EMAIL", "fake@fake-azdo.invalid")
                .env("GIT_AUTHOR_DATE", "1700000000 +0000")
                .env("GIT_COMMITTER_NAME", "Fake Azure DevOps")
                .env("GIT_COMMITTER_EMAIL", "fake@fake-azdo.invalid")
                .env("GIT_COMMITTER_DATE", "1700000000 +0000")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = match cmd.spawn() {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
                spawned => spawned.expect("fake-azdo: run git"),
            };
            if let Some(mut input) = child.stdin.take() {
                input.write_all(stdin.as_bytes()).expect("fake-azdo: write to git");
            }
            let out = child.wait_with_output().expect("fake-azdo: wait for git");
            assert!(out.status.success(), "fake-azdo: git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
            Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        let must = |args: &[&str], stdin: &str| git(args, stdin).expect("fake-azdo: git is gone");
        if git(&["init", "--bare", "--quiet"], "").is_none() {
            return dir;
        }
        must(&["symbolic-ref", "HEAD", "refs/heads/main"], "");
        let blob = must(
            &["hash-object", "-w", "--stdin"],
            &format!("# {repo}\n\nA repository in the fake Azure DevOps project {project}.\n"),
        );
        let tree = must(&["mktree"], &format!("100644 blob {blob}\tREADME.md\n"));
        let commit = must(&["commit-tree", &tree, "-m", "Initial commit"], "");
        must(&["update-ref", "refs/heads/main", &commit], "");
        dir
    }

    /// Makes an org one backed by personal Microsoft accounts: its challenge carries a bare
    /// `Bearer` and `X-VSS-ResourceTenant: 00000000-...` ([`MSA_TENANT_ID`](crate::MSA_TENANT_ID)), and its users'
    /// identities are `msa.` ones. Adds the org if needed.
    pub fn set_msa_org(&self, org: &str) {
        self.add_org(org);
        if let Some(o) = self.shared.state().orgs.get_mut(&key(org)) {
            o.msa = true;
        }
    }

    /// The identity id (GUID) the fake reports for a user, once a PAT was issued for them.
    pub fn user_id(&self, upn: &str) -> Option<String> {
        self.shared.state().users.get(&key(upn)).map(|u| u.id.clone())
    }
}
