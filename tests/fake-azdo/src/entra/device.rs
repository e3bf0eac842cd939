//! The device-code flow (§8.2, §8.3): handing out codes, and each poll answered by the flow's
//! script.

use super::*;

/// `POST /{tenant}/oauth2/v2.0/devicecode` (§8.2).
pub(crate) fn device_code(shared: &Shared, req: &Request, tenant: &str, form: &str) -> Response {
    if let Err(r) = check_method(shared, req).and_then(|_| check_tenant(shared, req, tenant)) {
        return r;
    }
    let client_id = match check_client(shared, req, tenant, form) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(scope) = query_param(form, "scope").filter(|s| !s.trim().is_empty()) else {
        return missing(shared, req, "scope");
    };
    let scopes = match parse_scopes(shared, req, &scope) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let cp1 = match requested_claims(shared, req, "devicecode", form) {
        Ok(claims) => declares_cp1(claims.as_ref()),
        Err(r) => return r,
    };
    let device_code = format!("BAQABAAEAAAA{}", util::random_string(B64URL, 180));
    let user_code = util::random_string(b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 9);
    let mut st = shared.state();
    let e = &mut st.entra;
    let (interval, expires_in) = (e.interval, e.expires_in);
    let plan = std::mem::take(&mut e.next);
    e.flows.push(Flow {
        device_code: device_code.clone(),
        user_code: user_code.clone(),
        client_id,
        tenant: tenant.to_string(),
        scopes,
        issued: Instant::now(),
        expires_in,
        interval,
        plan,
        polls: 0,
        last_poll: None,
        gaps: Vec::new(),
        state: DeviceFlowState::Waiting,
        cp1,
    });
    drop(st);
    let message = format!(
        "To sign in, use a web browser to open the page {VERIFICATION_URI} and enter the code {user_code} to authenticate."
    );
    let body = format!(
        "{{\"user_code\":\"{user_code}\",\"device_code\":\"{device_code}\",\"verification_uri\":\"{VERIFICATION_URI}\",\"expires_in\":{expires_in},\"interval\":{interval},\"message\":{}}}",
        json_str(&message)
    );
    let (headers, _) = entra_headers(req);
    Response::new(200).headers(headers).body(JSON, body)
}

/// What one device-code poll gets.
pub(super) enum Poll {
    Pending,
    SlowDown,
    Declined,
    Expired,
    Redeemed,
    Success(String),
}

/// The device-code grant (§8.3): the flow's script decides each answer.
pub(super) fn device_grant(shared: &Shared, req: &Request, client_id: &str, form: &str) -> Response {
    let Some(code) = query_param(form, "device_code").filter(|c| !c.is_empty()) else {
        return missing(shared, req, "device_code");
    };
    let cp1 = match requested_claims(shared, req, DEVICE_GRANT, form) {
        Ok(claims) => declares_cp1(claims.as_ref()),
        Err(r) => return r,
    };
    let blocked = shared.state().entra.device_blocked;
    if let Some(code) = blocked {
        // Not captured: the wording of AADSTS53003 is the error reference's; other codes get it too.
        return error(
            shared,
            req,
            400,
            "invalid_grant",
            code,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        );
    }
    let mut st = shared.state();
    let enforce = st.entra.enforce_interval;
    let Some(flow) =
        st.entra.flows.iter_mut().find(|f| f.device_code == code && f.client_id.eq_ignore_ascii_case(client_id))
    else {
        drop(st);
        return error(
            shared,
            req,
            400,
            "bad_verification_code",
            70018,
            "Invalid verification code due to User typing in wrong user code for device code flow.",
        );
    };
    let now = Instant::now();
    flow.polls += 1;
    flow.gaps.push(now.duration_since(flow.last_poll.unwrap_or(flow.issued)));
    let too_soon = flow.last_poll.is_some_and(|l| now.duration_since(l) < Duration::from_secs(flow.interval));
    flow.last_poll = Some(now);
    let answer = if matches!(flow.state, DeviceFlowState::SignedIn(_)) {
        Poll::Redeemed
    } else if flow.state == DeviceFlowState::Declined {
        Poll::Declined
    } else if flow.state == DeviceFlowState::Expired || now.duration_since(flow.issued).as_secs() >= flow.expires_in {
        flow.state = DeviceFlowState::Expired;
        Poll::Expired
    } else if enforce && too_soon {
        // RFC 8628 §3.5: the client must add 5 seconds to its interval.
        flow.interval += 5;
        Poll::SlowDown
    } else if flow.plan.pending > 0 {
        flow.plan.pending -= 1;
        Poll::Pending
    } else if flow.plan.slow_down {
        flow.plan.slow_down = false;
        Poll::SlowDown
    } else {
        match flow.plan.outcome.clone() {
            None => Poll::Pending,
            Some(FlowOutcome::Decline) => {
                flow.state = DeviceFlowState::Declined;
                Poll::Declined
            }
            Some(FlowOutcome::Expire) => {
                flow.state = DeviceFlowState::Expired;
                Poll::Expired
            }
            Some(FlowOutcome::Approve(upn)) => {
                flow.state = DeviceFlowState::SignedIn(upn.clone());
                Poll::Success(upn)
            }
        }
    };
    match answer {
        Poll::Success(upn) => {
            let flow_tenant = flow.tenant.clone();
            let scopes = flow.scopes.clone();
            // A new sign-in: a new session, a CAE token when the client declared cp1.
            let cae = cp1 || flow.cp1;
            let user = st.ensure_user(&upn);
            let issued = issue_cae(&mut st, &user, client_id, token_tenant(&flow_tenant), &scopes, cae);
            drop(st);
            success(req, &scopes, &issued)
        }
        other => {
            drop(st);
            let (error_name, code, text) = match other {
                Poll::Pending => (
                    "authorization_pending",
                    70016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ),
                // Not captured: the AADSTS code of slow_down is unconfirmed (reference §11.9).
                Poll::SlowDown => {
                    ("slow_down", 70016, "OAuth 2.0 device flow error. Polling too frequently; slow down and retry.")
                }
                // Not captured: the code of a declined device login is unconfirmed; 65004 is
                // Entra's "user declined to consent".
                Poll::Declined => ("authorization_declined", 65004, "User declined to consent to access the app."),
                Poll::Expired => ("expired_token", 70019, "Verification code expired. Have the user retry the sign-in."),
                // A device code redeemed before: answered like a redeemed authorization code.
                _ => (
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                ),
            };
            error(shared, req, 400, error_name, code, text)
        }
    }
}
