//! The operations on PATs that exist: list (paged), get, update and revoke, each on the
//! caller's own PATs in the org (or valid for all orgs).

use super::*;

/// The caller's PATs visible in this org: created here, or valid for all orgs.
pub(super) fn mine<'a>(st: &'a State, org: &str, user: &User) -> impl Iterator<Item = (usize, &'a PatRecord)> {
    let (org_key, upn) = (key(org), key(&user.upn));
    st.pats.iter().enumerate().filter(move |(_, p)| key(&p.upn) == upn && (p.org_key == org_key || p.all_orgs))
}

pub(super) fn status_rank(p: &PatRecord, now: i64) -> u8 {
    if p.revoked {
        2
    } else if p.valid_to.secs <= now {
        1
    } else {
        0
    }
}

/// GET without `authorizationId`: `PagedPatTokens`.
pub(super) fn list(shared: &Shared, req: &Request, org: &str, user: &User) -> Answer {
    let param = |name: &str| query_param(&req.query, name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let now = util::now_unix();
    let filter = param("displayFilterOption").unwrap_or_else(|| "active".into()).to_ascii_lowercase();
    let wanted: &[u8] = match filter.as_str() {
        "active" => &[0],
        "expired" => &[1],
        "revoked" => &[2],
        "all" => &[0, 1, 2],
        other => return Answer::Error(bad_request(shared, req, &format!("Invalid displayFilterOption '{other}'."))),
    };
    let top = match param("$top").map(|t| t.parse::<i64>()) {
        None => None,
        Some(Ok(n)) if n > 0 => Some((n as usize).min(MAX_TOP)),
        Some(_) => return Answer::Error(bad_request(shared, req, "Invalid $top: it must be a positive integer.")),
    };
    let start = match param("continuationToken") {
        None => 0,
        Some(t) => match base64::engine::general_purpose::STANDARD
            .decode(t.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
        {
            Some(n) => n,
            None => return Answer::Error(bad_request(shared, req, "Invalid continuation token.")),
        },
    };
    let st = shared.state();
    let top = top.unwrap_or(st.pat_page_size).min(st.pat_page_cap).max(1);
    let mut items: Vec<&PatRecord> =
        mine(&st, org, user).map(|(_, p)| p).filter(|p| wanted.contains(&status_rank(p, now))).collect();
    let ascending = param("isSortAscending").is_none_or(|s| !s.eq_ignore_ascii_case("false"));
    match param("sortByOption").map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("displayname") => items.sort_by_key(|p| p.display_name.to_lowercase()),
        Some("displaydate") => items.sort_by_key(|p| p.valid_to),
        Some("status") => items.sort_by_key(|p| status_rank(p, now)),
        None => {}
        Some(other) => {
            let message = format!("Invalid sortByOption '{other}'.");
            drop(st);
            return Answer::Error(bad_request(shared, req, &message));
        }
    }
    if !ascending {
        items.reverse();
    }
    let page: Vec<String> = items.iter().skip(start).take(top).map(|p| pat_json(&st, p, false)).collect();
    let next = if start + top < items.len() {
        base64::engine::general_purpose::STANDARD.encode((start + top).to_string())
    } else {
        String::new()
    };
    Answer::Json(200, format!("{{\"continuationToken\":{},\"patTokens\":[{}]}}", json_str(&next), page.join(",")))
}

pub(super) fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes()
            .enumerate()
            .all(|(i, b)| if [8, 13, 18, 23].contains(&i) { b == b'-' } else { b.is_ascii_hexdigit() })
}

/// The `authorizationId` of a request, checked: `Err` is the 400.
pub(super) fn authorization_id(shared: &Shared, req: &Request, value: Option<String>) -> Result<String, Answer> {
    match value.map(|s| s.trim().to_string()) {
        None => {
            Err(Answer::Error(bad_request(shared, req, "Value cannot be null.\r\nParameter name: authorizationId")))
        }
        Some(id) if is_guid(&id) => Ok(id.to_ascii_lowercase()),
        Some(id) => {
            Err(Answer::Error(bad_request(shared, req, &format!("The value '{id}' is not valid for authorizationId."))))
        }
    }
}

pub(super) fn find(st: &State, org: &str, user: &User, id: &str) -> Option<usize> {
    mine(st, org, user).find(|(_, p)| p.authorization_id.eq_ignore_ascii_case(id)).map(|(i, _)| i)
}

/// GET with `authorizationId`.
pub(super) fn get(shared: &Shared, req: &Request, org: &str, user: &User, v: &Version) -> Answer {
    let id = match authorization_id(shared, req, query_param(&req.query, "authorizationId")) {
        Ok(id) => id,
        Err(a) => return a,
    };
    let st = shared.state();
    match find(&st, org, user, &id) {
        Some(i) => result(&st, v, &st.pats[i], false),
        None => {
            drop(st);
            Answer::Error(not_found(shared, req, &id))
        }
    }
}

/// PUT: `PatTokenUpdateRequest`; only the fields present change.
pub(super) fn update(shared: &Shared, req: &Request, org: &str, user: &User, v: &Version, body: &[u8]) -> Answer {
    let json = match parse_body(shared, req, body, "tokenRequest") {
        Ok(j) => j,
        Err(a) => return a,
    };
    let id =
        match authorization_id(shared, req, json.get("authorizationId").and_then(Value::as_str).map(str::to_string)) {
            Ok(id) => id,
            Err(a) => return a,
        };
    let mut st = shared.state();
    let Some(i) = find(&st, org, user, &id) else {
        drop(st);
        return Answer::Error(not_found(shared, req, &id));
    };
    // "To update a token, it must be valid (has not been revoked)."
    if st.pats[i].revoked {
        return refused(&st, v, "authorizationNotFound");
    }
    let display_name = match json.get("displayName").and_then(Value::as_str) {
        Some(d) if d.trim().is_empty() => return refused(&st, v, "displayNameRequired"),
        other => other.map(|d| d.trim().to_string()),
    };
    let scopes = match json.get("scope").and_then(Value::as_str) {
        Some(s) => match valid_scopes(s) {
            Some(s) => Some(s),
            None => return refused(&st, v, "invalidScope"),
        },
        None => None,
    };
    let now = Stamp::now();
    let valid_to = match json.get("validTo").and_then(Value::as_str) {
        Some(t) => match Stamp::parse(t).filter(|t| *t > now) {
            Some(t) => Some(t),
            None => return refused(&st, v, "invalidValidTo"),
        },
        None => None,
    };
    if valid_to.is_some() && st.pats[i].valid_to <= now {
        return refused(&st, v, "expiredPatCannotBeExtended");
    }
    let all_orgs = json.get("allOrgs").and_then(Value::as_bool);
    let created = st.pats[i].valid_from;
    // The lifespan policy counts from the PAT's creation on update (7.2 spec).
    let valid_to = match apply_policies(
        &org_policies(&st, org),
        false,
        scopes.as_deref(),
        all_orgs == Some(true),
        valid_to,
        created,
    ) {
        Ok(t) => t,
        Err(e) => return refused(&st, v, &e),
    };
    let p = &mut st.pats[i];
    if let Some(d) = display_name {
        p.display_name = d;
    }
    if let Some(s) = scopes {
        p.scopes = s;
    }
    if let Some(t) = valid_to {
        p.valid_to = t;
    }
    if let Some(a) = all_orgs {
        p.all_orgs = a;
    }
    let p = st.pats[i].clone();
    result(&st, v, &p, false)
}

/// DELETE with `authorizationId`: 204, and the PAT stops working at once.
pub(super) fn revoke(shared: &Shared, req: &Request, org: &str, user: &User) -> Answer {
    let id = match authorization_id(shared, req, query_param(&req.query, "authorizationId")) {
        Ok(id) => id,
        Err(a) => return a,
    };
    let mut st = shared.state();
    match find(&st, org, user, &id) {
        Some(i) => {
            st.pats[i].revoked = true;
            Answer::NoContent
        }
        None => {
            drop(st);
            Answer::Error(not_found(shared, req, &id))
        }
    }
}
